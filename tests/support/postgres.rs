//! A throwaway PostgreSQL server on a free 127.0.0.1 port, for the state
//! contract tests and the replica tests; stopped (and its files removed)
//! when dropped.
//!
//! Debian's `postgresql` package keeps its server programs under
//! `/usr/lib/postgresql/<version>/bin`, off `PATH`. PostgreSQL refuses to
//! run as root, so as root the server runs as the `postgres` user the
//! package creates, in a directory that user owns (`runuser`).

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How to install the server, named in every failure to start it.
pub const POSTGRES_INSTALL: &str = "apt-get install -y postgresql";

/// A running server with a trust-authenticated superuser `strata`.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    /// Start a server and wait until it answers. Fails with the install
    /// command when the programs are missing: tests that need PostgreSQL
    /// never skip silently.
    pub fn start() -> Result<Self, String> {
        Self::start_with("")
    }

    /// [`Postgres::start`], with more server options (`-c name=value ...`).
    pub fn start_with(options: &str) -> Result<Self, String> {
        let bin = find_bin().ok_or_else(|| {
            format!(
                "PostgreSQL's server programs (`initdb`, `pg_ctl`) are not installed; \
                 install them with `{POSTGRES_INSTALL}` (tests/run does)"
            )
        })?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("strata-pg-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for PostgreSQL: {e}"))?
            .keep();
        let data = dir.join("data");
        if as_postgres {
            // The server's user must own its directories (and reach them).
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| format!("cannot open up {}: {e}", dir.display()))?;
            run(Command::new("chown").args(["postgres:postgres"]).arg(&dir))?;
        }
        let server = Self {
            bin,
            dir,
            data,
            port: 0,
            as_postgres,
        };
        server.command("initdb", |c| {
            c.arg("-D").arg(&server.data).args([
                "-A",
                "trust",
                "-U",
                "strata",
                "-E",
                "UTF8",
                "--no-sync",
            ]);
        })?;
        let mut last = String::new();
        let mut server = server;
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            server.port = port;
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 {options}",
                server.dir.display()
            );
            let log = server.dir.join("server.log");
            match server.command("pg_ctl", |c| {
                c.arg("-D")
                    .arg(&server.data)
                    .args(["-o", &options, "-l"])
                    .arg(&log)
                    .args(["-w", "-t", "30", "start"]);
            }) {
                Ok(()) => return Ok(server),
                Err(error) => {
                    last = format!(
                        "{error}\nserver log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        Err(last)
    }

    /// A server that takes only TLS connections (plain ones are rejected
    /// by `pg_hba.conf`), with a certificate for `127.0.0.1` signed by a
    /// fresh test CA; and the files, the CA's certificate among them.
    pub fn start_tls_only() -> Result<(Self, TlsFiles), String> {
        let files = TlsFiles::new()?;
        let options = format!(
            "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c hba_file={}",
            files.dir.path().join("server.crt").display(),
            files.dir.path().join("server.key").display(),
            files.dir.path().join("pg_hba.conf").display(),
        );
        Ok((Self::start_with(&options)?, files))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database: its `postgres://` address.
    pub fn database(&self, name: &str) -> Result<String, String> {
        self.command("createdb", |c| {
            c.args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "strata",
                name,
            ]);
        })?;
        Ok(self.url(name))
    }

    /// The address of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://strata@127.0.0.1:{}/{name}", self.port)
    }

    /// Run `psql -c sql` on database `name`; its output (unaligned, tuples
    /// only).
    pub fn psql(&self, name: &str, sql: &str) -> Result<String, String> {
        let psql = if self.bin.join("psql").is_file() {
            self.bin.join("psql")
        } else {
            PathBuf::from("psql")
        };
        let output = Command::new(psql)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "strata",
            ])
            .args(["-d", name, "-At", "-c", sql])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn command(&self, program: &str, args: impl FnOnce(&mut Command)) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        args(&mut command);
        command.current_dir(&self.dir);
        run(&mut command)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl", |c| {
            c.arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"]);
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    run_or(
        command,
        &format!("install PostgreSQL with `{POSTGRES_INSTALL}`"),
    )
}

/// Run `command`; when it cannot start, the error ends with `install`.
fn run_or(command: &mut Command, install: &str) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}; {install}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The directory holding `initdb` and `pg_ctl`: `$STRATA_PG_BIN`, else
/// Debian's newest `/usr/lib/postgresql/*/bin`, else `PATH`.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STRATA_PG_BIN").map(PathBuf::from) {
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    })
}

fn is_root() -> bool {
    // `id -u` rather than libc: the tests crate keeps to safe code.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// How to install `openssl`, which makes the TLS tests' certificates.
pub const OPENSSL_INSTALL: &str = "apt-get install -y openssl";

/// A test CA, a server key and certificate for `127.0.0.1` it signed, and
/// a `pg_hba.conf` that admits TLS connections only; removed when dropped.
pub struct TlsFiles {
    dir: tempfile::TempDir,
}

impl TlsFiles {
    fn new() -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("strata-pg-tls-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for certificates: {e}"))?;
        let files = Self { dir };
        let ca = files.another_ca("ca")?;
        let path = |name: &str| files.dir.path().join(name);
        openssl(|c| {
            c.arg("req").args(NEW_EC_KEY);
            c.arg("-keyout").arg(path("server.key"));
            c.arg("-out").arg(path("server.csr"));
            c.args(["-subj", "/CN=127.0.0.1"]);
        })?;
        std::fs::write(path("san.ext"), "subjectAltName=IP:127.0.0.1\n")
            .map_err(|e| format!("cannot write san.ext: {e}"))?;
        openssl(|c| {
            c.args(["x509", "-req", "-days", "2", "-CAcreateserial"]);
            c.arg("-in").arg(path("server.csr"));
            c.arg("-CA").arg(&ca).arg("-CAkey").arg(path("ca.key"));
            c.arg("-out").arg(path("server.crt"));
            c.arg("-extfile").arg(path("san.ext"));
        })?;
        std::fs::write(
            path("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .map_err(|e| format!("cannot write pg_hba.conf: {e}"))?;
        // The server's user must read them, and the key must be its alone.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |file: PathBuf, mode: u32| {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot chmod {}: {e}", file.display()))
        };
        mode(files.dir.path().to_path_buf(), 0o755)?;
        mode(path("server.key"), 0o600)?;
        if is_root() {
            for file in ["server.key", "server.crt", "pg_hba.conf"] {
                run(Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(path(file)))?;
            }
        }
        Ok(files)
    }

    /// The test CA's certificate (PEM): what `sslrootcert=` names.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A new CA named `name`, unrelated to the server's certificate unless
    /// it is `ca`: its certificate's path.
    pub fn another_ca(&self, name: &str) -> Result<PathBuf, String> {
        let path = |suffix: &str| self.dir.path().join(format!("{name}.{suffix}"));
        openssl(|c| {
            c.args(["req", "-x509", "-days", "2"]).args(NEW_EC_KEY);
            c.arg("-keyout")
                .arg(path("key"))
                .arg("-out")
                .arg(path("crt"));
            c.args(["-subj", &format!("/CN=strata test {name}")]);
        })?;
        Ok(path("crt"))
    }
}

/// `openssl req` arguments for a new P-256 key, unencrypted.
const NEW_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// Run `openssl` with the arguments `args` gives it.
fn openssl(args: impl FnOnce(&mut Command)) -> Result<(), String> {
    let mut command = Command::new("openssl");
    args(&mut command);
    run_or(
        &mut command,
        &format!("install it with `{OPENSSL_INSTALL}`"),
    )
}

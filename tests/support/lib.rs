//! Shared helpers for the end-to-end tests: fixture repositories in temp
//! dirs, and running the `strata` binary in them.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod git_http;
pub mod postgres;
pub mod receiver;
pub mod server;

/// The repository this crate lives in.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `runner/build.rs` put the misbehaving test guests.
pub fn test_guests_dir(_target_tmpdir: &str) -> PathBuf {
    PathBuf::from(strata::TEST_GUESTS_DIR)
}

/// A config repository in a temp dir, seeded with files.
pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty repository.
    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create temp dir"),
        }
    }

    /// A copy of this repository's `environments/`.
    pub fn with_examples() -> Self {
        let fixture = Self::empty();
        let from = repo_root().join("environments");
        for entry in std::fs::read_dir(&from).expect("environments/") {
            let entry = entry.expect("entry");
            let text = std::fs::read_to_string(entry.path()).expect("read example");
            fixture.write(
                &format!("environments/{}", entry.file_name().to_string_lossy()),
                &text,
            );
        }
        fixture
    }

    /// The root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `text` to `relative`, creating folders.
    pub fn write(&self, relative: &str, text: &str) {
        self.write_bytes(relative, text.as_bytes());
    }

    /// Write bytes to `relative`, creating folders.
    pub fn write_bytes(&self, relative: &str, bytes: &[u8]) {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(path, bytes).expect("write fixture file");
    }
}

/// What a run of `strata` did.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Exit code, stdout and stderr in one text, temp paths redacted.
    pub fn transcript(&self, fixture: &Fixture) -> String {
        let redact = |text: &str| text.replace(&fixture.path().display().to_string(), "[REPO]");
        format!(
            "exit code: {}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            redact(&self.stdout),
            redact(&self.stderr)
        )
    }
}

/// Run the binary at `bin` with `args` in `fixture`, with a module cache
/// shared by all tests of this build.
pub fn run(bin: &str, target_tmpdir: &str, fixture: &Fixture, args: &[&str]) -> Run {
    run_with(bin, target_tmpdir, fixture, args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_with(
    bin: &str,
    target_tmpdir: &str,
    fixture: &Fixture,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let output = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(fixture.path())
        .env(
            "STRATA_CACHE_DIR",
            Path::new(target_tmpdir).join("module-cache"),
        )
        .env("NO_COLOR", "1")
        .env_remove("STRATA_REPO")
        .output()
        .expect("run strata");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A git repository in a temp dir, committed to with a fixed author and
/// fixed times, so commit ids are the same on every run.
pub struct GitFixture {
    /// The files.
    pub fixture: Fixture,
    repository: git2::Repository,
    clock: i64,
}

impl GitFixture {
    /// An empty repository on branch `main`.
    pub fn new() -> Self {
        let fixture = Fixture::empty();
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repository = git2::Repository::init_opts(fixture.path(), &options).expect("git init");
        Self {
            fixture,
            repository,
            clock: 1_700_000_000,
        }
    }

    /// Write a file (not committed yet).
    pub fn write(&self, relative: &str, text: &str) {
        self.fixture.write(relative, text);
    }

    /// Remove a file (not committed yet).
    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.fixture.path().join(relative)).expect("remove file");
    }

    /// Commit every change in the work tree; returns the short id.
    pub fn commit(&mut self, message: &str) -> String {
        let mut index = self.repository.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.update_all(["*"], None).expect("update");
        index.write().expect("write index");
        let tree_id = index.write_tree().expect("write tree");
        let tree = self.repository.find_tree(tree_id).expect("tree");
        let signature = next_signature(&mut self.clock);
        let parent = self
            .repository
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = self
            .repository
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &parents,
            )
            .expect("commit");
        id.to_string()[..7].to_owned()
    }

    /// The full id of the commit HEAD is at.
    pub fn head_id(&self) -> String {
        self.repository
            .head()
            .and_then(|h| h.peel_to_commit())
            .map(|c| c.id().to_string())
            .expect("a commit at HEAD")
    }

    /// Point `name` (`refs/heads/main`, `refs/pull/7/head`) at commit `id`,
    /// as a push or GitHub's bookkeeping would. The work tree is not touched.
    pub fn set_ref(&self, name: &str, id: &str) {
        let oid = git2::Oid::from_str(id).expect("a commit id");
        self.repository
            .reference(name, oid, true, "strata tests")
            .expect("set the reference");
    }

    /// Check out commit `id` on `main` (work tree and index included), so the
    /// next commit builds on it.
    pub fn reset_main(&self, id: &str) {
        let oid = git2::Oid::from_str(id).expect("a commit id");
        let commit = self.repository.find_object(oid, None).expect("the commit");
        self.repository
            .reset(&commit, git2::ResetType::Hard, None)
            .expect("reset main");
    }

    /// A commit on top of `from` with `files` written (`None` removes one),
    /// left off every branch (point a `refs/pull/N/head` at it); `main`'s
    /// work tree is put back. Returns the full id.
    pub fn branch(&mut self, from: &str, files: &[(&str, Option<&str>)], message: &str) -> String {
        let main = self.head_id();
        self.reset_main(from);
        for (path, text) in files {
            match text {
                Some(text) => self.write(path, text),
                None => self.remove(path),
            }
        }
        self.commit(message);
        let id = self.head_id();
        self.reset_main(&main);
        id
    }

    /// Merge commit `head` into `main` as GitHub's merge button does (a
    /// merge commit whose first parent is `main`); returns the full id.
    pub fn merge(&mut self, head: &str, message: &str) -> String {
        let ours = self
            .repository
            .head()
            .and_then(|h| h.peel_to_commit())
            .expect("main has a commit");
        let theirs = self
            .repository
            .find_commit(git2::Oid::from_str(head).expect("a commit id"))
            .expect("the head commit");
        let mut index = self
            .repository
            .merge_commits(&ours, &theirs, None)
            .expect("merge");
        assert!(!index.has_conflicts(), "the merge conflicts");
        let tree_id = index.write_tree_to(&self.repository).expect("write tree");
        let tree = self.repository.find_tree(tree_id).expect("tree");
        let signature = next_signature(&mut self.clock);
        let id = self
            .repository
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &[&ours, &theirs],
            )
            .expect("commit")
            .to_string();
        self.reset_main(&id);
        id
    }

    /// The root.
    pub fn path(&self) -> &Path {
        self.fixture.path()
    }
}

/// The fixed author, a minute after the last commit (`clock`).
fn next_signature(clock: &mut i64) -> git2::Signature<'static> {
    *clock += 60;
    git2::Signature::new(
        "Strata Tests",
        "tests@strata.invalid",
        &git2::Time::new(*clock, 0),
    )
    .expect("signature")
}

impl Default for GitFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// moto's server on a free 127.0.0.1 port, as the CloudFormation (and STS,
/// S3, EC2) endpoint; stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    port: u16,
}

/// How to install moto's server, named in every failure to start it.
pub const MOTO_INSTALL: &str = "pip install 'moto[server]==5.2.5'";

impl Moto {
    /// Start `moto_server` and wait until it answers (and its first, slow,
    /// CloudFormation call is done). Fails with the install command when it is
    /// missing: tests that need it never skip silently.
    pub fn start() -> Result<Self, String> {
        // A port picked free may be taken by another test's server before
        // ours binds it; then ours exits and we try another.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::start_once() {
                Ok(moto) => return Ok(moto),
                Err((message, retry)) if retry => last = message,
                Err((message, _)) => return Err(message),
            }
        }
        Err(last)
    }

    /// One attempt on one free port; the error says whether another port
    /// may do.
    fn start_once() -> Result<Self, (String, bool)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| (format!("no free port: {e}"), false))?
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                (format!("cannot start moto's server (`moto_server`): {e}; install it with `{MOTO_INSTALL}` (tests/run does)"), false)
            })?;
        let mut moto = Self { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err((
                    format!(
                        "moto_server exited at once ({status}); reinstall it with `{MOTO_INSTALL}`"
                    ),
                    true,
                ));
            }
            // The server answering must be ours, not another test's that
            // took the port first.
            if listens_on(moto.child.id(), port)
                && moto
                    .get("/moto-api/")
                    .is_some_and(|s| s.starts_with("HTTP/1.1 200") || s.starts_with("HTTP/1.0 200"))
            {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err((
                    format!(
                        "moto_server did not answer on port {} within 30 s",
                        moto.port
                    ),
                    true,
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // The first CloudFormation call loads moto's emulation: pay it here.
        moto.get("/?Action=ListStacks&Version=2010-05-15");
        Ok(moto)
    }

    /// Its endpoint URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment variables that point the AWS SDK (and `strata`) at it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("STRATA_POLL_MS", "20".into()),
        ]
    }

    /// A raw GET, answered as text (status line first), or None.
    fn get(&self, path: &str) -> Option<String> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        Some(reply)
    }

    /// Run a Python snippet with boto3 (installed with moto) against this
    /// server; `cf`, `ec2` and `s3` clients are ready. Returns its stdout.
    pub fn python(&self, snippet: &str) -> Result<String, String> {
        let program = format!(
            "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\ncf = boto3.client('cloudformation', **kw)\nec2 = boto3.client('ec2', **kw)\ns3 = boto3.client('s3', **kw)\n{snippet}\n",
            self.url()
        );
        let output = Command::new("python3")
            .args(["-c", &program])
            .output()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` holds the listening TCP socket on `port` (read from
/// `/proc`: the socket's inode among the process's open files).
fn listens_on(pid: u32, port: u16) -> bool {
    let wanted = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local = fields.get(1)?;
                    let listening = fields.get(3) == Some(&"0A");
                    (listening && local.ends_with(&wanted))
                        .then(|| fields.get(9).map(|i| (*i).to_owned()))?
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            inodes
                .iter()
                .any(|inode| target == format!("socket:[{inode}]"))
        })
    })
}

//! `strata serve` as a child process, and GitHub's side of it: real webhook
//! payloads (`tests/fixtures/webhooks/`) pointed at a test repository,
//! signed and sent over plain HTTP to 127.0.0.1.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::repo_root;

/// The webhook secret every test server uses.
pub const SECRET: &str = "It's a Secret to Everybody";

/// The repository the payloads name.
pub const OWNER: &str = "acme";
/// The repository the payloads name.
pub const NAME: &str = "infra";

/// A running `strata serve`; stopped (SIGTERM, then kill) when dropped.
pub struct Server {
    child: Option<Child>,
    address: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Start `bin serve` with `args` and `env`, and wait until it listens.
    pub fn start(bin: &str, target_tmpdir: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Self::spawn(
            bin,
            target_tmpdir,
            &all,
            env,
            "strata serve: listening on http://",
        )
    }

    /// Start `bin watch` with `args` and `env`, and wait until it watches
    /// ([`Server::address`] is then empty).
    pub fn start_watch(
        bin: &str,
        target_tmpdir: &str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Self {
        let mut all = vec!["watch"];
        all.extend_from_slice(args);
        let mut server = Self::spawn(bin, target_tmpdir, &all, env, "strata watch: watching ");
        server.address.clear();
        server
    }

    fn spawn(
        bin: &str,
        target_tmpdir: &str,
        args: &[&str],
        env: &[(&str, String)],
        ready: &'static str,
    ) -> Self {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env(
                "STRATA_CACHE_DIR",
                Path::new(target_tmpdir).join("module-cache"),
            )
            .env("STRATA_LOG", "info,strata=debug")
            .env("NO_COLOR", "1")
            .env_remove("STRATA_REPO")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start strata");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, listening) = std::sync::mpsc::channel();
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix(ready) {
                        let _ = found.send(rest.trim_end_matches('/').to_owned());
                    }
                    let mut log = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let address = match listening.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "strata {} did not start\n--- stderr\n{}",
                    args.first().copied().unwrap_or_default(),
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        Self {
            child: Some(child),
            address,
            log,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Send a signed delivery; the status code.
    pub fn deliver(&self, event: &str, delivery: &str, payload: &Value) -> u16 {
        let body = serde_json::to_vec(payload).expect("serialize payload");
        let signature = strata::server::webhook::sign(SECRET.as_bytes(), &body);
        self.post(
            &[
                ("X-GitHub-Event", event),
                ("X-GitHub-Delivery", delivery),
                ("X-Hub-Signature-256", &signature),
                ("Content-Type", "application/json"),
            ],
            &body,
        )
    }

    /// A raw POST to `/`: the status code.
    pub fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> u16 {
        let mut stream = TcpStream::connect(&self.address).expect("connect to strata serve");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nUser-Agent: GitHub-Hookshot/test\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("send headers");
        // A server that refuses early (413) may close before the body is in.
        let _ = stream.write_all(body);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        text.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in the reply: {text:?}"))
    }

    /// A raw POST to `/` with a chunked body of `size` bytes (no
    /// `Content-Length` to refuse it by): the status code.
    pub fn post_chunked(&self, headers: &[(&str, &str)], size: usize) -> u16 {
        let mut stream = TcpStream::connect(&self.address).expect("connect to strata serve");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nUser-Agent: GitHub-Hookshot/test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
            self.address
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("send headers");
        let chunk = vec![b' '; 16 << 10];
        let mut sent = 0;
        while sent < size {
            let n = chunk.len().min(size - sent);
            let framed = [format!("{n:x}\r\n").as_bytes(), &chunk[..n], b"\r\n"].concat();
            if stream.write_all(&framed).is_err() {
                break; // refused early: the reply says why
            }
            sent += n;
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        text.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in the reply: {text:?}"))
    }

    /// Resident memory of the server process, in KiB (`VmRSS`).
    pub fn resident_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGTERM, and wait for the exit; its code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Wait until `check` gives `Some`, for at most `seconds`; on timeout, panic
/// with `what` and the server's log.
pub fn eventually<T>(
    server: &Server,
    seconds: u64,
    what: &str,
    check: impl FnMut() -> Option<T>,
) -> T {
    eventually_with(
        seconds,
        what,
        || format!("--- server log\n{}", server.log()),
        check,
    )
}

/// [`eventually`], for several servers: on timeout, panic with `what` and
/// what `logs` says.
pub fn eventually_with<T>(
    seconds: u64,
    what: &str,
    logs: impl Fn() -> String,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check() {
            return found;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}\n{}", logs());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A vendored payload.
fn fixture(name: &str) -> Value {
    let path: PathBuf = repo_root().join("tests/fixtures/webhooks").join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("a JSON payload")
}

/// Point a payload's `repository` at `acme/infra`, cloned from `clone_url`.
fn repository(payload: &mut Value, clone_url: &Path) {
    let repository = &mut payload["repository"];
    repository["name"] = json!(NAME);
    repository["full_name"] = json!(format!("{OWNER}/{NAME}"));
    repository["owner"]["login"] = json!(OWNER);
    repository["clone_url"] = json!(clone_url.display().to_string());
    repository["default_branch"] = json!("main");
    repository["html_url"] = json!(format!("https://github.com/{OWNER}/{NAME}"));
}

const HEADER: &str = r#"project = "shop"
environment = "production"
region = "us-east-1"
account = "123456789012"
protected = true

[tags]
CostCenter = "engineering"
Owner = "platform"
"#;

/// `environments/prod.toml` of the server tests: networking (flow logs kept
/// `retention` days) and security, and an `s3` stack when `with_s3`.
pub fn prod(retention: u32, with_s3: bool) -> String {
    format!(
        "{HEADER}\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 2\nflow_log_retention_days = {retention}\n\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n{}",
        if with_s3 {
            "\n[stacks.s3]\ntype = \"s3\"\n"
        } else {
            ""
        }
    )
}

/// What a pull request payload says.
#[derive(Debug, Clone)]
pub struct PrPayload<'a> {
    /// `opened`, `synchronize`, `closed`, ...
    pub action: &'a str,
    /// Its number.
    pub number: u64,
    /// Its head commit.
    pub head_sha: &'a str,
    /// Merged (with `closed`).
    pub merged: bool,
    /// Who did it.
    pub sender: &'a str,
}

/// A `pull_request` delivery, from the vendored example of its action.
pub fn pull_request(clone_url: &Path, pr: &PrPayload<'_>) -> Value {
    let mut payload = match (pr.action, pr.merged) {
        ("closed", true) => fixture("pull_request.closed.merged.derived.json"),
        ("closed", false) => fixture("pull_request.closed.json"),
        ("synchronize", _) => fixture("pull_request.synchronize.json"),
        ("reopened", _) => fixture("pull_request.reopened.json"),
        _ => fixture("pull_request.opened.json"),
    };
    repository(&mut payload, clone_url);
    payload["action"] = json!(pr.action);
    payload["number"] = json!(pr.number);
    payload["sender"]["login"] = json!(pr.sender);
    let pull = &mut payload["pull_request"];
    pull["number"] = json!(pr.number);
    pull["merged"] = json!(pr.merged);
    pull["head"]["sha"] = json!(pr.head_sha);
    pull["head"]["ref"] = json!(format!("change-{}", pr.number));
    pull["head"]["repo"]["full_name"] = json!(format!("{OWNER}/{NAME}"));
    pull["base"]["ref"] = json!("main");
    pull["html_url"] = json!(format!(
        "https://github.com/{OWNER}/{NAME}/pull/{}",
        pr.number
    ));
    payload
}

/// An `issue_comment` delivery: `user` comments `body` on pull request `pr`.
pub fn comment(clone_url: &Path, pr: u64, comment_id: u64, user: &str, body: &str) -> Value {
    let mut payload = fixture("issue_comment.created.pull_request.derived.json");
    repository(&mut payload, clone_url);
    payload["issue"]["number"] = json!(pr);
    payload["comment"]["id"] = json!(comment_id);
    payload["comment"]["body"] = json!(body);
    payload["comment"]["user"]["login"] = json!(user);
    payload["sender"]["login"] = json!(user);
    payload
}

/// A `push` delivery to `main`, from `before` to `after`.
pub fn push(clone_url: &Path, before: &str, after: &str, pusher: &str) -> Value {
    let mut payload = fixture("push.default_branch.derived.json");
    repository(&mut payload, clone_url);
    payload["ref"] = json!("refs/heads/main");
    payload["before"] = json!(before);
    payload["after"] = json!(after);
    payload["created"] = json!(false);
    payload["deleted"] = json!(false);
    payload["pusher"]["name"] = json!(pusher);
    payload
}

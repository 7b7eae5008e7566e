//! Modules pinned by URL in `strata.toml`: downloaded once from a local HTTP
//! server into the cache, verified against the pin, then used offline; a
//! wrong digest or an unreachable URL is a clear error that leaves the cache
//! untouched.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use strata_tests::{Fixture, Run, test_guests_dir};

/// Serves `bytes` at `/misbehaving.wasm` (and a redirect to it at
/// `/latest`), counting downloads; stops answering when `down` is set.
struct Server {
    address: String,
    downloads: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl Server {
    fn start(bytes: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("address").to_string();
        let downloads = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&downloads), Arc::clone(&down));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if stopped.load(Ordering::Relaxed) {
                    continue; // dropped unanswered: the connection is reset
                }
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                let _ = reader.read_line(&mut line);
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let reply = match path.as_str() {
                    "/misbehaving.wasm" => {
                        count.fetch_add(1, Ordering::Relaxed);
                        let mut reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/wasm\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            bytes.len()
                        )
                        .into_bytes();
                        reply.extend_from_slice(&bytes);
                        reply
                    }
                    "/latest" => b"HTTP/1.1 302 Found\r\nLocation: /misbehaving.wasm\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&reply);
            }
        });
        Self {
            address,
            downloads,
            down,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

fn guest() -> Vec<u8> {
    std::fs::read(test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_misbehaving.wasm"))
        .expect("the test guest, built by runner/build.rs")
}

/// A repository pinning the guest at `url` to `sha256`, with one stack of it.
fn repository(url: &str, sha256: &str) -> Fixture {
    let fixture = Fixture::empty();
    fixture.write(
        "strata.toml",
        &format!("[modules.misbehaving]\nurl = \"{url}\"\nsha256 = \"{sha256}\"\n"),
    );
    fixture.write(
        "environments/dev.toml",
        "project = \"acme\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"eng\"\nOwner = \"platform\"\n\n[stacks.topic]\ntype = \"misbehaving\"\n",
    );
    fixture
}

fn validate(fixture: &Fixture, cache: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_strata-under-test"))
        .args(["validate"])
        .current_dir(fixture.path())
        .env("STRATA_CACHE_DIR", cache)
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

fn downloads_in(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("downloads"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_module_pinned_by_url_is_downloaded_once_then_used_offline() {
    let bytes = guest();
    let digest = strata::modules::sha256_hex(&bytes);
    let server = Server::start(bytes);
    let cache = tempfile::tempdir().expect("a cache dir");
    // Behind a redirect, as release assets usually are.
    let fixture = repository(&server.url("/latest"), &digest);

    let first = validate(&fixture, cache.path());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(downloads_in(cache.path()), [format!("{digest}.wasm")]);
    let second = validate(&fixture, cache.path());
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        server.downloads.load(Ordering::Relaxed),
        1,
        "downloaded once"
    );

    server.down.store(true, Ordering::Relaxed);
    let offline = validate(&fixture, cache.path());
    assert_eq!(
        offline.code, 0,
        "offline, from the cache: {}",
        offline.stderr
    );
}

#[test]
fn a_download_that_does_not_match_its_pin_is_refused_and_not_cached() {
    let server = Server::start(guest());
    let cache = tempfile::tempdir().expect("a cache dir");
    let wrong = "0".repeat(64);
    let fixture = repository(&server.url("/misbehaving.wasm"), &wrong);
    let run = validate(&fixture, cache.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    // The report wraps long lines: compare its words.
    let words: Vec<&str> = run
        .stderr
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect();
    let text = words.join(" ");
    assert!(
        text.contains("downloaded from `http://")
            && text.contains("does not match its pinned sha256"),
        "{}",
        run.stderr
    );
    assert!(text.contains("nothing was cached"), "{}", run.stderr);
    assert!(downloads_in(cache.path()).is_empty());
}

#[test]
fn an_unreachable_url_is_a_clear_error_and_the_cache_is_untouched() {
    let cache = tempfile::tempdir().expect("a cache dir");
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let fixture = repository(
        &format!("http://127.0.0.1:{closed}/misbehaving.wasm"),
        &"a".repeat(64),
    );
    let run = validate(&fixture, cache.path());
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("cannot download it"), "{}", run.stderr);
    assert!(
        run.stderr.contains("strata.toml:2:7"),
        "points at the URL: {}",
        run.stderr
    );
    assert!(downloads_in(cache.path()).is_empty());
}

#[test]
fn a_plain_http_url_to_another_machine_is_refused_before_any_download() {
    let cache = tempfile::tempdir().expect("a cache dir");
    let fixture = repository("http://modules.example.com/x.wasm", &"a".repeat(64));
    let run = validate(&fixture, cache.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("must use `https://`"), "{}", run.stderr);
}

#[test]
fn a_policy_pinned_by_url_is_downloaded_once_and_a_wrong_digest_is_refused() {
    let bytes = std::fs::read(
        test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_house_rules.wasm"),
    )
    .expect("the house-rules policy guest");
    let digest = strata::modules::sha256_hex(&bytes);
    let server = Server::start(bytes);
    let cache = tempfile::tempdir().expect("a cache dir");
    let fixture = Fixture::empty();
    let pin = |sha256: &str| {
        format!(
            "[policies.house-rules]\nurl = \"{}\"\nsha256 = \"{sha256}\"\n",
            server.url("/misbehaving.wasm")
        )
    };
    fixture.write(
        "environments/dev.toml",
        "project = \"acme\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"eng\"\nOwner = \"platform\"\n\n[stacks.s3]\ntype = \"s3\"\n",
    );

    fixture.write("strata.toml", &pin(&"0".repeat(64)));
    let wrong = validate(&fixture, cache.path());
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(
        wrong
            .stderr
            .contains("policy `house-rules` downloaded from"),
        "{}",
        wrong.stderr
    );
    assert!(downloads_in(cache.path()).is_empty(), "nothing cached");

    fixture.write("strata.toml", &pin(&digest));
    let first = validate(&fixture, cache.path());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(downloads_in(cache.path()), [format!("{digest}.wasm")]);
    server.down.store(true, Ordering::Relaxed);
    let offline = validate(&fixture, cache.path());
    assert_eq!(offline.code, 0, "offline: {}", offline.stderr);
    assert_eq!(
        server.downloads.load(Ordering::Relaxed),
        2,
        "the wrong pin's download and the right one's"
    );
}

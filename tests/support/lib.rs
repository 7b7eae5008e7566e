//! Shared helpers for the end-to-end tests: fixture repositories in temp
//! dirs, and running the `strata` binary in them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository this crate lives in.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `runner/build.rs` put the misbehaving test guests.
pub fn test_guests_dir(target_tmpdir: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("STRATA_MODULES_TARGET_DIR") {
        return PathBuf::from(dir).join("wasm32-wasip2/release");
    }
    if let Some(dir) = std::env::var_os("STRATA_MODULES_DIR") {
        return PathBuf::from(dir).join("target/wasm32-wasip2/release");
    }
    Path::new(target_tmpdir).join("../strata-modules/wasm32-wasip2/release")
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
    let output = Command::new(bin)
        .args(args)
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

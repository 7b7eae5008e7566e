//! Builds the first-party stack modules (`modules/`, a workspace of its own
//! targeting `wasm32-wasip2`) and embeds them in the `strata` binary, so
//! `cargo install --path runner` gives a self-contained tool.
//!
//! In the spirit of wasmtime's test-programs: a nested `cargo build` of the
//! guest workspace, into a directory beside this build's profile directory
//! (stable across `cargo build`, `cargo test` and `cargo clippy`, so the
//! guests build once). The generated `embedded_modules.rs` holds each module's
//! bytes and sha256; `STRATA_TEST_GUESTS` points the host tests at the
//! misbehaving guests, which are never embedded.
//!
//! Each embedded module (and built-in policy) is also precompiled here, by an
//! engine configured by the host's own `src/host/engine_config.rs`, into
//! `precompiled_modules.rs` (`src/host/precompiled.rs` includes it): a first
//! run loads them in about a millisecond each instead of compiling them with
//! Cranelift for a second or so. The artifacts are kept beside the guests,
//! named by module digest and engine compatibility hash, so only a changed
//! module compiles again. A cross-compiled build (`TARGET` is not `HOST`)
//! embeds none; the runtime then compiles as before.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use wasmtime::Engine;

#[path = "src/host/engine_config.rs"]
mod engine_config;

/// Guest crates that are not stack modules (`policies/` holds the built-in
/// policy modules, embedded apart).
const NOT_MODULES: &[&str] = &["sdk", "test-guests", "policies", "target"];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=STRATA_MODULES_DIR");
    // `STRATA_MODULES_DIR` builds the embedded modules from another checkout
    // of `modules/` (a packager's vendored copy, or a snapshot).
    let modules_dir = env::var_os("STRATA_MODULES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../modules"));
    let wit_dir = modules_dir.join("../wit");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    rerun_if_changed(&modules_dir);
    println!("cargo:rerun-if-changed=src/host/engine_config.rs");
    println!("cargo:rerun-if-env-changed=STRATA_PRECOMPILE");
    println!("cargo:rerun-if-changed={}", wit_dir.display());
    println!("cargo:rerun-if-env-changed=STRATA_MODULES_TARGET_DIR");

    // Guests of another checkout build in that checkout's own target dir:
    // sharing one would let cargo's mtime checks take one checkout's
    // artifacts for the other's.
    let target_dir = match (
        env::var_os("STRATA_MODULES_TARGET_DIR"),
        env::var_os("STRATA_MODULES_DIR"),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(_)) => modules_dir.join("target"),
        (None, None) => guest_target_dir(&out_dir).join(checkout_key(&modules_dir)),
    };
    build_guests(&modules_dir, &target_dir);
    // This run's copies replace the last run's ([`snapshot`]).
    let _ = fs::remove_dir_all(out_dir.join("embedded"));
    let artifacts = target_dir.join("wasm32-wasip2").join("release");

    let mut modules = Vec::new();
    for entry in fs::read_dir(&modules_dir).expect("read modules/") {
        let entry = entry.expect("read modules/ entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().join("Cargo.toml").is_file() || NOT_MODULES.contains(&name.as_str()) {
            continue;
        }
        let wasm = artifacts.join(format!("strata_module_{}.wasm", name.replace('-', "_")));
        let bytes = fs::read(&wasm)
            .unwrap_or_else(|e| panic!("module `{name}` was not built at {}: {e}", wasm.display()));
        let wasm = snapshot(&out_dir, &wasm);
        modules.push((name, wasm, hex(&Sha256::digest(&bytes))));
    }
    modules.sort();

    let mut code = String::from(
        "/// The first-party modules, built from `modules/` by `runner/build.rs`.\n\
         pub static EMBEDDED: &[EmbeddedModule] = &[\n",
    );
    for (name, wasm, digest) in &modules {
        writeln!(
            code,
            "    EmbeddedModule {{ name: {name:?}, sha256: {digest:?}, bytes: include_bytes!({path:?}) }},",
            path = wasm.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n");

    // The built-in policies: `modules/policies/NAME`, crate `strata-policy-NAME`.
    let mut policies = Vec::new();
    for entry in fs::read_dir(modules_dir.join("policies"))
        .into_iter()
        .flatten()
    {
        let entry = entry.expect("read modules/policies/ entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().join("Cargo.toml").is_file() {
            continue;
        }
        let wasm = artifacts.join(format!("strata_policy_{}.wasm", name.replace('-', "_")));
        let bytes = fs::read(&wasm)
            .unwrap_or_else(|e| panic!("policy `{name}` was not built at {}: {e}", wasm.display()));
        let wasm = snapshot(&out_dir, &wasm);
        policies.push((name, wasm, hex(&Sha256::digest(&bytes))));
    }
    policies.sort();
    code.push_str(
        "/// The built-in policies, built from `modules/policies/` by `runner/build.rs`.\n\
         pub static EMBEDDED_POLICIES: &[EmbeddedModule] = &[\n",
    );
    for (name, wasm, digest) in &policies {
        writeln!(
            code,
            "    EmbeddedModule {{ name: {name:?}, sha256: {digest:?}, bytes: include_bytes!({path:?}) }},",
            path = wasm.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    fs::write(out_dir.join("embedded_modules.rs"), code).expect("write embedded_modules.rs");

    let embedded: Vec<_> = modules.iter().chain(&policies).collect();
    // A guest target dir named by `STRATA_MODULES_TARGET_DIR` may be shared:
    // another checkout's artifacts there are not this build's to remove.
    let owned = env::var_os("STRATA_MODULES_TARGET_DIR").is_none();
    let precompiled = precompile(&embedded, &target_dir.join("precompiled"), owned, &out_dir);
    fs::write(out_dir.join("precompiled_modules.rs"), precompiled)
        .expect("write precompiled_modules.rs");

    println!("cargo:rustc-env=STRATA_TEST_GUESTS={}", artifacts.display());
}

/// The generated `precompiled_modules.rs`: each embedded component compiled
/// for this host's engine, with that engine's compatibility hash. Empty when
/// cross-compiling, when `STRATA_PRECOMPILE=0`, or when no engine can be made
/// here (the runtime compiles then, as it does for any module). With `prune`,
/// artifacts in `dir` of no current module are removed.
fn precompile(
    modules: &[&(String, PathBuf, String)],
    dir: &Path,
    prune: bool,
    out_dir: &Path,
) -> String {
    let skip = |why: &str| {
        println!(
            "cargo:warning=the embedded modules are not precompiled ({why}); strata compiles each at its first use"
        );
        String::from(
            "/// No engine precompiled the embedded modules in this build.\n\
             pub const BUILD_COMPATIBILITY_HASH: Option<&str> = None;\n\
             /// The embedded components, precompiled: none in this build.\n\
             pub static PRECOMPILED: &[Precompiled] = &[];\n",
        )
    };
    if env::var_os("STRATA_PRECOMPILE").is_some_and(|v| v == "0") {
        return skip("STRATA_PRECOMPILE=0");
    }
    if env::var_os("TARGET") != env::var_os("HOST") {
        return skip("cross-compiling");
    }
    // The pool's memory size does not reach the generated code, so any cap
    // gives the same artifacts; this is the default limits' engine.
    let config = engine_config::engine_config(engine_config::POLICY_MEMORY_CEILING);
    let engine = match Engine::new(&config) {
        Ok(engine) => engine,
        Err(error) => return skip(&format!("no engine: {error:#}")),
    };
    let hash = engine_config::compatibility_hash(&engine);
    fs::create_dir_all(dir).expect("create the precompiled modules' directory");
    let mut code = format!(
        "/// The compatibility hash of the engine that precompiled [`PRECOMPILED`].\n\
         pub const BUILD_COMPATIBILITY_HASH: Option<&str> = Some({hash:?});\n\
         /// The embedded components, precompiled by `runner/build.rs`.\n\
         pub static PRECOMPILED: &[Precompiled] = &[\n"
    );
    let mut kept = Vec::new();
    for (name, wasm, digest) in modules {
        let file = format!("{digest}-{hash}.cwasm");
        let artifact = dir.join(&file);
        if !artifact.is_file() {
            let bytes = fs::read(wasm).expect("read a built module");
            let compiled = engine
                .precompile_component(&bytes)
                .unwrap_or_else(|e| panic!("precompiling module `{name}` failed: {e:#}"));
            let partial = dir.join(format!("{file}.tmp{}", std::process::id()));
            fs::write(&partial, compiled).expect("write a precompiled module");
            fs::rename(&partial, &artifact).expect("move a precompiled module into place");
        }
        let artifact = snapshot(out_dir, &artifact);
        writeln!(
            code,
            "    Precompiled {{ sha256: {digest:?}, artifact: include_bytes!({path:?}) }},",
            path = artifact.display().to_string()
        )
        .expect("write to string");
        kept.push(file);
    }
    code.push_str("];\n");
    // Artifacts of modules since rebuilt, or of another engine, go.
    let stale = if prune { fs::read_dir(dir).ok() } else { None };
    for entry in stale.into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.ends_with(".cwasm") && !kept.contains(&file) {
            let _ = fs::remove_file(entry.path());
        }
    }
    code
}

/// A copy of `file` (a hard link where the filesystem allows) in this build
/// script's own `OUT_DIR`, which is what the generated code includes. The
/// guest target dir and the precompiled artifacts are shared by every
/// profile, and by every checkout built into the same target dir: another
/// build may rebuild a module there, or prune an artifact, without this
/// build's script running again. Both replace files rather than write into
/// them, so a link keeps this build's bytes.
fn snapshot(out_dir: &Path, file: &Path) -> PathBuf {
    let dir = out_dir.join("embedded");
    fs::create_dir_all(&dir).expect("create OUT_DIR/embedded");
    let name = file.file_name().expect("an artifact has a file name");
    let copy = dir.join(name);
    let _ = fs::remove_file(&copy);
    if fs::hard_link(file, &copy).is_err() {
        fs::copy(file, &copy)
            .unwrap_or_else(|e| panic!("copy {} into OUT_DIR: {e}", file.display()));
    }
    copy
}

/// A short name for the checkout whose `modules/` is `modules_dir`: every
/// profile of one checkout shares its guest builds, and two checkouts built
/// into one target dir (a global `CARGO_TARGET_DIR`, worktrees) do not. In
/// one shared guest dir, cargo keeps each checkout's fingerprints apart but
/// not the final `.wasm` files, so one checkout would embed the other's.
fn checkout_key(modules_dir: &Path) -> String {
    let path = fs::canonicalize(modules_dir).unwrap_or_else(|_| modules_dir.to_path_buf());
    let digest = hex(&Sha256::digest(path.to_string_lossy().as_bytes()));
    format!("checkout-{}", &digest[..12])
}

/// `<target>/<profile>/build/strata-<hash>/out` → `<target>/strata-modules`.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target| target.join("strata-modules"))
        .unwrap_or_else(|| out_dir.join("strata-modules"))
}

fn build_guests(modules_dir: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(modules_dir)
        .args([
            "build",
            "--release",
            "--workspace",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target_dir);
    // The outer build's settings are for the host target, not the guests.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let keep = key == "CARGO_HOME" || key == "CARGO_MAKEFLAGS" || key == "CARGO_NET_OFFLINE";
        if (key.starts_with("CARGO_") && !keep)
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            command.env_remove(key.as_ref());
        }
    }
    let status = command.status().expect("run cargo to build modules/");
    if !status.success() {
        panic!(
            "building the stack modules in `{}` failed (cargo's errors are above)\n\
             help: if the `wasm32-wasip2` target is missing, `rustup target add wasm32-wasip2` \
             (rust-toolchain.toml asks rustup for it)",
            modules_dir.display()
        );
    }
}

/// Ask cargo to rerun this script when a guest's sources, manifest or lock
/// file change (not when `modules/target` does).
fn rerun_if_changed(modules_dir: &Path) {
    for file in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            modules_dir.join(file).display()
        );
    }
    let mut crates = vec![modules_dir.join("sdk")];
    for parent in [
        modules_dir.to_path_buf(),
        modules_dir.join("test-guests"),
        modules_dir.join("policies"),
    ] {
        for entry in fs::read_dir(&parent).into_iter().flatten().flatten() {
            if entry.path().join("Cargo.toml").is_file() {
                crates.push(entry.path());
            }
        }
    }
    for dir in ["test-guests", "policies"] {
        println!("cargo:rerun-if-changed={}", modules_dir.join(dir).display());
    }
    for dir in crates {
        for item in ["Cargo.toml", "src", "wit"] {
            let path = dir.join(item);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

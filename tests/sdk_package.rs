//! The module SDK as an outsider gets it: `cargo package` packs
//! `strata-module-sdk`, a module crate outside this repository depends on the
//! unpacked `.crate` with the exact lines `modules/sdk/README.md` gives, builds
//! for `wasm32-wasip2`, passes its native unit tests, and the runner's host
//! loads and renders it. Also: the
//! WIT the SDK ships (`modules/sdk/wit/`) is the repository's `wit/`.
//!
//! Needs `cargo`, `tar` and the `wasm32-wasip2` target; fails (never skips)
//! without them. The module builds in a target dir under
//! `CARGO_TARGET_TMPDIR`, so later runs are incremental.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata::host::{Host, Limits, RenderContext};
use strata::modules::sha256_hex;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The files under `dir`, by path relative to it.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let entries = std::fs::read_dir(&next)
            .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", next.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read WIT file");
                let relative = path.strip_prefix(dir).expect("under dir").to_path_buf();
                files.insert(relative, bytes);
            }
        }
    }
    files
}

#[test]
fn the_sdk_ships_the_same_wit_as_the_repository() {
    let root = repo_root();
    let repository = files_under(&root.join("wit"));
    let shipped = files_under(&root.join("modules/sdk/wit"));
    let names = |files: &BTreeMap<PathBuf, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&repository),
        names(&shipped),
        "`wit/` and `modules/sdk/wit/` hold different files\n\
         help: the SDK's copy must be the repository's: `cp -r wit/. modules/sdk/wit/`"
    );
    for (path, bytes) in &repository {
        assert!(
            shipped[path] == *bytes,
            "`wit/{0}` differs from `modules/sdk/wit/{0}`\n\
             help: change both together: `cp wit/{0} modules/sdk/wit/{0}`",
            path.display()
        );
    }
}

/// A `cargo` command that does not inherit the settings of the `cargo test`
/// running this test (they are for the host's workspace), except the
/// toolchain, the cargo home and offline mode.
fn cargo(dir: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let keep = key == "CARGO_HOME" || key == "CARGO_NET_OFFLINE";
        if (key.starts_with("CARGO_") && !keep)
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            command.env_remove(key.as_ref());
        }
    }
    command
}

/// Run `command`, panicking with its output and `help` when it fails or
/// cannot start.
fn run(mut command: Command, what: &str, help: &str) {
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {what}: `{}`: {e}\nhelp: install it (Rust comes with rustup: https://rustup.rs)",
            command.get_program().to_string_lossy()
        )
    });
    assert!(
        output.status.success(),
        "{what} failed ({status}):\n{stdout}{stderr}\nhelp: {help}",
        status = output.status,
        stdout = String::from_utf8_lossy(&output.stdout),
        stderr = String::from_utf8_lossy(&output.stderr),
    );
}

/// Fail, with the fix, when the toolchain has no `wasm32-wasip2` standard
/// library.
fn require_the_wasm_target() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `rustc` to find the wasm32-wasip2 target: {e}\nhelp: install Rust with rustup")
        });
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let installed = output.status.success()
        && std::fs::read_dir(&libdir).is_ok_and(|mut entries| entries.next().is_some());
    assert!(
        installed,
        "the `wasm32-wasip2` target is not installed, so no module can be built\n\
         help: `rustup target add wasm32-wasip2`"
    );
}

/// The fenced block right after `<!-- sdk_package: NAME -->` in the SDK's
/// README.
fn readme_block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- sdk_package: {name} -->");
    let after = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("modules/sdk/README.md has no `{marker}` block"))
        .1;
    let body = after
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, rest)| rest)
        .expect("a fenced block follows the marker");
    let (block, _) = body.split_once("\n```").expect("the fenced block ends");
    format!("{block}\n")
}

#[test]
fn an_out_of_tree_module_builds_against_the_packaged_sdk_and_renders() {
    require_the_wasm_target();
    let root = repo_root();
    let work = tempfile::tempdir().expect("temp dir");

    // 1. Pack the SDK as `cargo publish` would.
    let package_target = work.path().join("package-target");
    let mut package = cargo(&root.join("modules"));
    package
        .args([
            "package",
            "--no-verify",
            "--allow-dirty",
            "-p",
            "strata-module-sdk",
        ])
        .arg("--target-dir")
        .arg(&package_target);
    run(
        package,
        "`cargo package -p strata-module-sdk`",
        "run it in `modules/` to see what the package is missing",
    );
    // The SDK is versioned on its own (not with the workspace): take the
    // version its manifest gives.
    let sdk_manifest =
        std::fs::read_to_string(root.join("modules/sdk/Cargo.toml")).expect("SDK manifest");
    let version = sdk_manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("modules/sdk/Cargo.toml has its own `version = \"…\"` line");
    let crate_file = package_target
        .join("package")
        .join(format!("strata-module-sdk-{version}.crate"));
    assert!(crate_file.is_file(), "no `{}`", crate_file.display());

    // 2. Unpack it where nothing of this repository is in reach.
    let mut untar = Command::new("tar");
    untar
        .arg("-xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(work.path());
    run(untar, "`tar -xzf` of the packaged SDK", "install `tar`");
    let sdk = work.path().join(format!("strata-module-sdk-{version}"));
    assert!(
        sdk.join("wit/module.wit").is_file(),
        "the packaged SDK lacks `wit/module.wit`"
    );

    // 3. A module crate, with the README's exact lines; only the SDK's
    //    source changes, from crates.io to the unpacked package.
    let readme = std::fs::read_to_string(root.join("modules/sdk/README.md")).expect("SDK README");
    let registry_line = "strata-module-sdk = \"0.2\"";
    let manifest = readme_block(&readme, "Cargo.toml");
    assert!(
        manifest.contains(registry_line),
        "the README's Cargo.toml does not depend on `{registry_line}`"
    );
    let manifest = manifest.replace(
        registry_line,
        &format!(
            "strata-module-sdk = {{ path = {:?} }}",
            sdk.display().to_string()
        ),
    );
    let module = work.path().join("cognito");
    std::fs::create_dir_all(module.join("src")).expect("module dir");
    std::fs::write(module.join("Cargo.toml"), manifest).expect("Cargo.toml");
    std::fs::write(
        module.join("src/lib.rs"),
        readme_block(&readme, "src/lib.rs"),
    )
    .expect("lib.rs");
    // The versions the SDK is tested with (and that are in cargo's cache).
    std::fs::copy(root.join("modules/Cargo.lock"), module.join("Cargo.lock")).expect("Cargo.lock");

    // 4. Build it as the README says, in a target dir kept between runs.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-package-module");
    let mut build = cargo(&module);
    build
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target);
    run(
        build,
        "building the out-of-tree module for wasm32-wasip2",
        "the README's dependency lines or example no longer build against the packaged SDK",
    );
    let wasm_path = target.join("wasm32-wasip2/release/strata_module_cognito.wasm");
    let wasm = std::fs::read(&wasm_path)
        .unwrap_or_else(|e| panic!("no module at `{}`: {e}", wasm_path.display()));

    // 5. Its unit tests, over the SDK's test kit, pass natively.
    let mut test = cargo(&module);
    test.arg("test").arg("--target-dir").arg(&target);
    run(
        test,
        "`cargo test` of the out-of-tree module",
        "the README's example tests no longer pass against the packaged SDK",
    );

    // 6. The host loads it and renders one stack.
    let host = Host::new(Limits::default(), None).expect("host starts");
    let loaded = host
        .load("cognito", &wasm, &sha256_hex(&wasm))
        .expect("the host loads the module");
    assert_eq!(loaded.info.name, "cognito");
    assert_eq!(loaded.info.version, "0.1.0");
    let ctx = RenderContext {
        project: "acme".into(),
        environment: "production".into(),
        stack: "auth".into(),
        region: "eu-west-1".into(),
        account: None,
        tags: vec![
            ("Environment".into(), "production".into()),
            ("Owner".into(), "platform".into()),
        ],
    };
    let rendered = host
        .render(&loaded, &ctx, r#"{"mfa": "required"}"#)
        .expect("no trap")
        .expect("renders");
    assert_eq!(rendered.exports, ["user-pool-id", "user-pool-arn"]);
    let template: serde_json::Value =
        serde_json::from_str(&rendered.template).expect("template is JSON");
    let pool = &template["Resources"]["UserPool"];
    assert_eq!(pool["Type"], "AWS::Cognito::UserPool");
    assert_eq!(pool["Properties"]["UserPoolName"], "acme-production-users");
    assert_eq!(
        pool["Properties"]["UserPoolTags"],
        serde_json::json!({ "Environment": "production", "Owner": "platform" })
    );

    // Its documented enum variants still list every allowed value.
    let schema: serde_json::Value =
        serde_json::from_str(&loaded.info.config_schema).expect("schema is JSON");
    let errors = strata::config::schema::validate(&schema, &serde_json::json!({ "mfa": "on" }));
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        ["`mfa` must be one of `off`, `optional`, `required`, got the string `\"on\"`"]
    );

    let refused = host
        .render(&loaded, &ctx, "{}")
        .expect("no trap")
        .expect_err("production without MFA is refused");
    assert_eq!(refused[0].path, "mfa");
    assert_eq!(refused[0].message, "must not be `off` in production");
}

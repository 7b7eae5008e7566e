//! `strata module new` and `strata module check` as a module author meets
//! them: a new crate builds for wasm32-wasip2, passes its own tests and the
//! checker, and renders pinned in a config repository; modules that break a
//! guarantee fail the checker, naming the resource, with a help.

use std::path::{Path, PathBuf};
use std::process::Command;

use strata_tests::{Fixture, Run, run, test_guests_dir};

fn strata(fixture: &Fixture, args: &[&str]) -> Run {
    run(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        fixture,
        args,
    )
}

/// The transcript with what changes from build to build redacted: temp
/// paths, digests, sizes of the component, time and memory per render.
fn redacted(fixture: &Fixture, out: &Run) -> String {
    let text = out
        .transcript(fixture)
        .replace(
            &test_guests_dir(env!("CARGO_TARGET_TMPDIR"))
                .display()
                .to_string(),
            "[GUESTS]",
        )
        .replace(
            &scaffold_target_dir().display().to_string(),
            "[SCAFFOLD-TARGET]",
        );
    let filters = [
        (r"[0-9a-f]{64}", "[SHA256]"),
        (r"\(\d+ bytes, sha256", "([N] bytes, sha256"),
        (r"slowest render [\d.]+ ms", "slowest render [T] ms"),
        (r"most memory [\d.]+ MiB", "most memory [M] MiB"),
        (r#""bytes": \d+"#, r#""bytes": [N]"#),
    ];
    filters.iter().fold(text, |text, (pattern, replacement)| {
        regex_replace(&text, pattern, replacement)
    })
}

fn regex_replace(text: &str, pattern: &str, replacement: &str) -> String {
    let re = regex::Regex::new(pattern).expect("a valid pattern");
    re.replace_all(text, replacement).into_owned()
}

/// One target dir for every build of a scaffold, so dependencies build once.
fn scaffold_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target")
}

/// `cargo ARGS` in `dir`, without the settings of the cargo running these
/// tests (they are for this workspace, not the scaffold).
fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(dir).args(args);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let keep = key == "CARGO_HOME" || key == "CARGO_NET_OFFLINE";
        if (key.starts_with("CARGO_") && !keep) || key == "RUSTFLAGS" || key == "RUSTC_WRAPPER" {
            command.env_remove(key.as_ref());
        }
    }
    command
        .env("CARGO_TARGET_DIR", scaffold_target_dir())
        .output()
        .expect("run cargo")
}

fn assert_cargo(dir: &Path, args: &[&str]) {
    let output = cargo(dir, args);
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_new_module_builds_passes_its_tests_and_the_checker_and_renders_once_pinned() {
    let started = std::time::Instant::now();
    let fixture = Fixture::empty();
    let sdk = strata_tests::repo_root().join("modules/sdk");
    let sdk = sdk.canonicalize().expect("modules/sdk");
    let out = strata(
        &fixture,
        &[
            "module",
            "new",
            "cognito",
            "--sdk",
            &sdk.display().to_string(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    insta::assert_snapshot!("new_prints_next_steps", out.transcript(&fixture));

    let crate_dir = fixture.path().join("cognito");
    assert_cargo(
        &crate_dir,
        &["build", "--release", "--target", "wasm32-wasip2"],
    );
    let wasm = scaffold_target_dir().join("wasm32-wasip2/release/strata_module_cognito.wasm");
    let bytes = std::fs::read(&wasm).expect("the scaffold's component");
    assert_cargo(&crate_dir, &["test"]);

    let out = strata(
        &fixture,
        &[
            "module",
            "check",
            &wasm.display().to_string(),
            "--config",
            "cognito/example.toml",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    insta::assert_snapshot!("check_of_the_scaffold", redacted(&fixture, &out));

    // Pinned in a config repository with the lines the checker printed, it renders.
    let pin = &out.stdout[out.stdout.find("[modules.cognito]").expect("the pin")..];
    fixture.write_bytes("modules/cognito.wasm", &bytes);
    fixture.write("strata.toml", pin);
    let example = std::fs::read_to_string(crate_dir.join("example.toml")).expect("example.toml");
    fixture.write("environments/dev.toml", &example);
    let out = strata(&fixture, &["render", "--env", "dev", "--out", "out"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let template = std::fs::read_to_string(fixture.path().join("out/cognito.template.json"))
        .expect("the rendered template");
    assert!(template.contains("\"acme-dev-cognito\""), "{template}");
    eprintln!(
        "module new -> pinned render: {:.1} s; scaffold .wasm: {} bytes",
        started.elapsed().as_secs_f64(),
        bytes.len()
    );
}

/// A repository beside the `careless` test guest and an environment with
/// one stack per flaw.
fn careless(flaws: &[(&str, &str)]) -> (Fixture, String) {
    let fixture = Fixture::empty();
    let wasm = test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_careless.wasm");
    let mut config = String::from(
        "project = \"acme\"\nenvironment = \"dev\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n",
    );
    for (stack, flaw) in flaws {
        config.push_str(&format!(
            "\n[stacks.{stack}]\ntype = \"careless\"\nflaw = \"{flaw}\"\n"
        ));
    }
    fixture.write("example.toml", &config);
    (fixture, wasm.display().to_string())
}

#[test]
fn a_module_leaving_a_resource_untagged_fails_naming_it() {
    let (fixture, wasm) = careless(&[("auth", "untagged")]);
    let out = strata(
        &fixture,
        &["module", "check", &wasm, "--config", "example.toml"],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    assert!(
        out.stdout
            .contains("`UserPool` (AWS::Cognito::UserPool) has no `UserPoolTags`")
    );
    insta::assert_snapshot!(redacted(&fixture, &out));
}

#[test]
fn a_module_naming_a_resource_outside_the_prefix_fails_naming_it() {
    let (fixture, wasm) = careless(&[("jobs", "foreign-name")]);
    let out = strata(
        &fixture,
        &["module", "check", &wasm, "--config", "example.toml"],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    assert!(
        out.stdout
            .contains("`Queue` (AWS::SQS::Queue) is named `my-queue`")
    );
    insta::assert_snapshot!(redacted(&fixture, &out));
}

#[test]
fn reports_as_json_with_a_status_per_check() {
    let (fixture, wasm) = careless(&[("auth", "untagged"), ("jobs", "none")]);
    let out = strata(
        &fixture,
        &[
            "module",
            "check",
            &wasm,
            "--config",
            "example.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(report["format"], "strata.module-check/v1");
    assert_eq!(report["module"]["name"], "careless");
    assert_eq!(report["module"]["wit"], "strata:module/stack-module@0.2.0");
    let statuses: Vec<(String, String)> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    let failed: Vec<&str> = statuses
        .iter()
        .filter(|(_, status)| status != "ok")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(failed, ["tags"], "{statuses:?}");
    let finding = &report["checks"][5]["findings"][0];
    assert_eq!(finding["stack"], "auth");
    assert_eq!(finding["resource"], "UserPool");
    assert!(finding["help"].is_string());
    assert_eq!(report["errors"], 1);
}

#[test]
fn a_pin_naming_the_module_otherwise_is_an_error_with_the_fix() {
    let (fixture, wasm) = careless(&[("jobs", "none")]);
    let bytes = std::fs::read(&wasm).expect("the careless guest");
    fixture.write_bytes("modules/careless.wasm", &bytes);
    fixture.write(
        "strata.toml",
        &format!(
            "[modules.careless-bad]\npath = \"modules/careless.wasm\"\nsha256 = \"{}\"\n",
            strata::modules::sha256_hex(&bytes)
        ),
    );
    let out = strata(
        &fixture,
        &[
            "module",
            "check",
            "modules/careless.wasm",
            "--config",
            "example.toml",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    assert!(
        out.stdout
            .contains("`strata.toml` pins it as `careless-bad`, but it calls itself `careless`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("help: rename the table to `[modules.careless]`")
    );
    // Inside the repository, the pin keeps the file where it is.
    assert!(
        out.stdout
            .contains("[modules.careless]\npath = \"modules/careless.wasm\"\n")
    );
}

#[test]
fn without_a_config_an_empty_table_is_rendered_when_the_schema_allows_it() {
    let (fixture, wasm) = careless(&[]);
    let out = strata(&fixture, &["module", "check", &wasm]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    assert!(
        out.stdout
            .contains("1 stack of `(an empty table)` (`careless`)"),
        "{}",
        out.stdout
    );
}

#[test]
fn refuses_bad_input_with_exit_2_and_a_help() {
    let fixture = Fixture::empty();
    std::fs::create_dir(fixture.path().join("cognito")).expect("mkdir");
    let mut transcripts = Vec::new();
    for args in [
        &["module", "new", "cognito"][..],
        &["module", "new", "Cognito_Pool"],
        &["module", "new", "x", "--sdk", "nowhere"],
        &["module", "check", "missing.wasm"],
    ] {
        let out = strata(&fixture, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.transcript(&fixture));
        assert!(out.stderr.contains("help:"), "{args:?}: {}", out.stderr);
        transcripts.push(format!(
            "$ strata {}\n{}",
            args.join(" "),
            out.transcript(&fixture)
        ));
    }
    assert_eq!(
        std::fs::read_dir(fixture.path().join("cognito"))
            .expect("dir")
            .count(),
        0
    );
    insta::assert_snapshot!(transcripts.join("\n"));
}

#[test]
fn a_module_built_against_wit_0_1_passes_the_wit_check_with_a_note_on_0_2() {
    let fixture = Fixture::empty();
    let wasm = test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_wit_0_1.wasm");
    let out = strata(&fixture, &["module", "check", &wasm.display().to_string()]);
    let wit = out
        .stdout
        .lines()
        .find(|line| line.contains(" wit "))
        .unwrap_or_else(|| panic!("no wit check: {}", out.transcript(&fixture)));
    assert_eq!(
        wit,
        "ok       wit          exports `strata:module/stack-module@0.1.0`, still accepted; \
         `strata:module@0.2.0` (strata-module-sdk 0.2) would let it declare its stateful \
         resources and replacing properties to plans"
    );
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
}

#[test]
fn a_module_built_against_another_wit_version_fails_the_wit_check() {
    let fixture = Fixture::empty();
    let wasm = test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_future_wit.wasm");
    let out = strata(&fixture, &["module", "check", &wasm.display().to_string()]);
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    let wit = out
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("error    wit"))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        wit.contains("this strata loads `strata:module@0.1.x` and `strata:module@0.2.x`"),
        "{}",
        out.stdout
    );
    assert!(
        wit.contains("help: rebuild it with `strata-module-sdk` 0.2"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("[modules."),
        "no pin for a module that does not load"
    );
}

#[test]
fn a_render_over_the_sandbox_time_limit_fails_the_sandbox_check() {
    let fixture = Fixture::empty();
    let wasm = test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_misbehaving.wasm");
    fixture.write("strata.toml", "[sandbox]\ntimeout_ms = 100\n");
    fixture.write(
        "example.toml",
        "project = \"acme\"\nenvironment = \"dev\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.spin]\ntype = \"misbehaving\"\nmisbehave = \"loop\"\n",
    );
    let out = strata(
        &fixture,
        &[
            "module",
            "check",
            &wasm.display().to_string(),
            "--config",
            "example.toml",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    assert!(
        out.stdout.contains("error: stack `spin`: module `misbehaving` timed out after 100 ms while rendering stack `spin`"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("of 100 ms"), "{}", out.stdout);
}

#[test]
fn a_config_without_a_stack_of_the_module_s_type_is_bad_input() {
    let (fixture, wasm) = careless(&[]);
    fixture.write(
        "other.toml",
        "project = \"acme\"\nenvironment = \"dev\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.queues]\ntype = \"sqs\"\n",
    );
    let out = strata(
        &fixture,
        &["module", "check", &wasm, "--config", "other.toml"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    assert!(
        out.stderr
            .contains("`other.toml` has no stack of type `careless`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: add one to render it"),
        "{}",
        out.stderr
    );

    let out = strata(
        &fixture,
        &["module", "check", &wasm, "--config", "missing.toml"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    assert!(
        out.stderr
            .contains("cannot read environment file `missing.toml`"),
        "{}",
        out.stderr
    );
}

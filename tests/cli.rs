//! The `strata` command as a user meets it: run the binary in a temp copy of
//! a config repository, snapshot exit code, stdout and stderr.

use strata_tests::{Fixture, Run, run, test_guests_dir};

fn strata(fixture: &Fixture, args: &[&str]) -> Run {
    run(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        fixture,
        args,
    )
}

fn read(fixture: &Fixture, relative: &str) -> String {
    std::fs::read_to_string(fixture.path().join(relative))
        .unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

#[test]
fn help_explains_every_command_with_an_example() {
    let fixture = Fixture::empty();
    for command in [
        &["--help"][..],
        &["validate", "--help"],
        &["render", "--help"],
        &["graph", "--help"],
        &["modules", "--help"],
        &["plan", "--help"],
        &["apply", "--help"],
        &["run", "--help"],
        &["serve", "--help"],
        &["watch", "--help"],
        &["module", "--help"],
        &["drift", "--help"],
        &["schema", "--help"],
        &["locks", "--help"],
    ] {
        let out = strata(&fixture, command);
        assert_eq!(out.code, 0, "{command:?}");
        assert!(
            out.stdout.contains("Example"),
            "{command:?} has no example:\n{}",
            out.stdout
        );
        insta::assert_snapshot!(
            format!("help_{}", command[0].trim_start_matches('-')),
            out.stdout
        );
    }
}

#[test]
fn validates_every_example_environment_without_a_diagnostic() {
    let fixture = Fixture::with_examples();
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    assert_eq!(
        out.stderr, "",
        "example environments must load without a diagnostic"
    );
    insta::assert_snapshot!(out.stdout);
}

/// The example environments and the repository's own `workflows/*.toml`.
fn with_example_workflows() -> Fixture {
    let fixture = Fixture::with_examples();
    let from = strata_tests::repo_root().join("workflows");
    for entry in std::fs::read_dir(&from).expect("workflows/") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") {
            let text = std::fs::read_to_string(entry.path()).expect("read example");
            fixture.write(&format!("workflows/{name}"), &text);
        }
    }
    fixture
}

#[test]
fn validates_the_example_workflows_without_a_diagnostic() {
    let fixture = with_example_workflows();
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    assert_eq!(
        out.stderr, "",
        "example workflows must load without a diagnostic"
    );
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn an_invalid_workflow_is_bad_input() {
    let fixture = with_example_workflows();
    fixture.write(
        "workflows/hotfix.toml",
        "[on.push]\n\n[[stages]]\nname = \"prod\"\nenvironments = [\"prd\"]\nafter = [\"staging\"]\n",
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    insta::assert_snapshot!(out.transcript(&fixture));
}

#[test]
fn renders_prod_byte_identically_twice() {
    let fixture = Fixture::with_examples();
    let first = strata(&fixture, &["render", "--env", "prod", "--out", "out/a"]);
    let second = strata(
        &fixture,
        &["--no-cache", "render", "--env", "prod", "--out", "out/b"],
    );
    assert_eq!(
        (first.code, second.code),
        (0, 0),
        "{}",
        first.transcript(&fixture)
    );
    let mut files: Vec<String> = std::fs::read_dir(fixture.path().join("out/a"))
        .expect("out/a")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() > 1);
    for file in &files {
        assert_eq!(
            read(&fixture, &format!("out/a/{file}")),
            read(&fixture, &format!("out/b/{file}")),
            "{file} differs"
        );
    }
    insta::assert_snapshot!(files.join("\n"));
    insta::assert_snapshot!(first.stdout);
}

#[test]
fn manifest_lists_stacks_waves_exports_imports_and_modules() {
    let fixture = Fixture::with_examples();
    let out = strata(&fixture, &["render", "--env", "dev", "--out", "out"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&fixture, "out/manifest.json")).expect("manifest is JSON");
    insta::assert_json_snapshot!(manifest, {
        ".stacks.*.template_sha256" => "[sha256]",
        ".stacks.*.template_bytes" => "[bytes]",
        ".stacks.*.resources" => "[count]",
        ".stacks.*.module.sha256" => "[sha256]",
    });
}

#[test]
fn render_replaces_templates_of_stacks_that_are_gone() {
    let fixture = Fixture::with_examples();
    fixture.write("out/old-stack.template.json", "{}");
    fixture.write("out/notes.txt", "mine");
    let out = strata(&fixture, &["render", "--env", "dev", "--out", "out"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    assert!(!fixture.path().join("out/old-stack.template.json").exists());
    assert_eq!(
        read(&fixture, "out/notes.txt"),
        "mine",
        "files strata did not write are left alone"
    );
}

#[test]
fn graph_of_prod_as_text_json_and_dot() {
    let fixture = Fixture::with_examples();
    for format in ["text", "json", "dot"] {
        let out = strata(&fixture, &["graph", "--env", "prod", "--format", format]);
        assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
        insta::assert_snapshot!(format!("graph_{format}"), out.stdout);
    }
}

#[test]
fn unknown_environment_is_bad_input_with_a_suggestion() {
    let fixture = Fixture::with_examples();
    let out = strata(&fixture, &["render", "--env", "prd", "--out", "out"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript(&fixture));
    assert!(
        !fixture.path().join("out").exists(),
        "nothing is written on failure"
    );
}

#[test]
fn an_invalid_environment_is_bad_input_and_writes_nothing() {
    let fixture = Fixture::with_examples();
    let prod = read(&fixture, "environments/prod.toml")
        .replace("backup_retention_days = 30", "backup_retention_days = 3");
    fixture.write("environments/prod.toml", &prod);
    let out = strata(&fixture, &["render", "--env", "prod", "--out", "out"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    assert!(!fixture.path().join("out").exists());
    insta::assert_snapshot!(out.transcript(&fixture));
}

/// A repository whose `strata.toml` declares the test guests.
fn fixture_with_guests(pin: Option<&str>) -> Fixture {
    let fixture = Fixture::empty();
    let guests = test_guests_dir(env!("CARGO_TARGET_TMPDIR"));
    let bytes = std::fs::read(guests.join("test_guest_misbehaving.wasm"))
        .expect("test guest built by runner/build.rs");
    fixture.write_bytes("modules/misbehaving.wasm", &bytes);
    let digest = strata::modules::sha256_hex(&bytes);
    let pin = pin.unwrap_or(&digest);
    fixture.write(
        "strata.toml",
        &format!(
            "# Modules this repository adds.\n[modules.misbehaving]\npath = \"modules/misbehaving.wasm\"\nsha256 = \"{pin}\"\n\n[sandbox]\ntimeout_ms = 200\nmemory_mib = 16\n"
        ),
    );
    fixture.write(
        "environments/dev.toml",
        r#"project = "acme"
region = "us-east-1"

[tags]
CostCenter = "engineering"
Owner = "platform"

[stacks.networking]
type = "networking"

[stacks.topic]
type = "misbehaving"
misbehave = "nothing"

[stacks.spinner]
type = "misbehaving"
misbehave = "loop"

[stacks.hoarder]
type = "misbehaving"
misbehave = "grow-memory"

[stacks.crasher]
type = "misbehaving"
misbehave = "panic"

[stacks.thief]
type = "misbehaving"
misbehave = "foreign-export"

[stacks.smuggler]
type = "misbehaving"
misbehave = "undeclared-import"

[stacks.scribbler]
type = "misbehaving"
misbehave = "malformed-template"

[stacks.asker]
type = "misbehaving"
misbehave = "missing-import"
"#,
    );
    fixture
}

#[test]
fn misbehaving_modules_fail_their_own_stacks_and_exit_1() {
    let fixture = fixture_with_guests(None);
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(
        out.code,
        1,
        "a trapping module is a failed operation:\n{}",
        out.transcript(&fixture)
    );
    for stack in [
        "spinner",
        "hoarder",
        "crasher",
        "thief",
        "smuggler",
        "scribbler",
    ] {
        assert!(
            out.stderr.contains(&format!("stack `{stack}`")),
            "no diagnostic names `{stack}`:\n{}",
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains("stack `topic`"),
        "the well-behaved stack rendered:\n{}",
        out.stderr
    );
    insta::with_settings!({ filters => vec![(r"lib\.rs:\d+:\d+", "lib.rs:[line]:[column]")] }, {
        insta::assert_snapshot!(out.transcript(&fixture));
    });
}

#[test]
fn a_module_declared_in_strata_toml_renders_and_is_named_in_the_manifest() {
    let fixture = fixture_with_guests(None);
    let env = read(&fixture, "environments/dev.toml");
    let cut = env.find("[stacks.spinner]").expect("fixture layout");
    fixture.write("environments/dev.toml", &env[..cut]);
    let out = strata(&fixture, &["render", "--env", "dev", "--out", "out"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&fixture, "out/manifest.json")).expect("JSON");
    assert_eq!(
        manifest["stacks"]["topic"]["module"]["source"],
        "modules/misbehaving.wasm"
    );
    assert_eq!(
        manifest["stacks"]["networking"]["module"]["source"],
        "built in"
    );
}

#[test]
fn a_module_whose_digest_does_not_match_its_pin_is_refused_showing_both() {
    let pin = "0".repeat(64);
    let fixture = fixture_with_guests(Some(&pin));
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!("pinned:   {pin}")),
        "{}",
        out.stderr
    );
    let guests = test_guests_dir(env!("CARGO_TARGET_TMPDIR"));
    let actual = strata::modules::sha256_hex(
        &std::fs::read(guests.join("test_guest_misbehaving.wasm")).expect("guest"),
    );
    assert!(
        out.stderr.contains(&format!("actual:   {actual}")),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(out.transcript(&fixture).replace(&actual, "[actual sha256]"));
}

#[test]
fn lists_the_built_in_stack_types() {
    let fixture = Fixture::empty();
    let out = strata(&fixture, &["modules"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    for kind in ["networking", "security", "database"] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(kind)),
            "{kind} missing:\n{}",
            out.stdout
        );
    }
    // And the built-in policy, with its rules.
    assert!(
        out.stdout.lines().any(|l| l.starts_with("guarantees")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("rules: tags, names, encryption"),
        "{}",
        out.stdout
    );
}

#[test]
fn prints_a_module_schema() {
    let fixture = Fixture::empty();
    let out = strata(&fixture, &["modules", "--schema", "database"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("schema is JSON");
    assert!(
        schema["properties"]["backup_retention_days"].is_object(),
        "{schema}"
    );
}

#[test]
fn the_checked_in_environment_schema_is_current() {
    let fixture = Fixture::empty();
    let out = strata(&fixture, &["schema"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let checked_in =
        std::fs::read_to_string(strata_tests::repo_root().join("docs/environment.schema.json"))
            .expect("docs/environment.schema.json");
    assert!(
        out.stdout == checked_in,
        "docs/environment.schema.json is stale: regenerate it with\n  cargo run -p strata -- schema > docs/environment.schema.json"
    );
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    for kind in ["networking", "security", "database"] {
        assert!(
            schema["$defs"][kind]["properties"]["type"]["const"] == kind,
            "{kind} missing"
        );
    }
}

#[test]
fn the_checked_in_workflow_schema_is_current() {
    let fixture = Fixture::empty();
    let out = strata(&fixture, &["schema", "--workflow"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let checked_in =
        std::fs::read_to_string(strata_tests::repo_root().join("docs/workflow.schema.json"))
            .expect("docs/workflow.schema.json");
    assert!(
        out.stdout == checked_in,
        "docs/workflow.schema.json is stale: regenerate it with\n  cargo run -p strata -- schema --workflow > docs/workflow.schema.json"
    );
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert!(schema["properties"]["stages"]["items"]["properties"]["gates"].is_object());
}

#[test]
fn a_server_table_in_strata_toml_is_not_an_unknown_key() {
    let fixture = Fixture::with_examples();
    fixture.write(
        "strata.toml",
        "[sandbox]\ntimeout_ms = 3000\n\n[server]\nlisten = \"127.0.0.1:8080\"\nconcurrency = 2\n",
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
}

//! Config repositories built to break Strata: files that lead outside the
//! repository, files that are not files, text that is not what TOML wants,
//! keys in the wrong place. Each gets one clear error at its place, exit 2,
//! and no hang.

use std::os::unix::fs::symlink;
use std::process::Command;

use strata_tests::{Fixture, Run, run};

fn strata(fixture: &Fixture, args: &[&str]) -> Run {
    run(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        fixture,
        args,
    )
}

const ENVIRONMENT: &str = r#"project = "shop"
environment = "dev"
region = "us-east-1"

[tags]
CostCenter = "engineering"
Owner = "platform"

[stacks.jobs]
type = "sqs"
"#;

const NO_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn module_files_outside_the_repository_or_not_regular_are_refused_by_rule() {
    let fixture = Fixture::empty();
    fixture.write("environments/dev.toml", ENVIRONMENT);
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("evil.wasm"), b"\0asm").expect("write");
    std::fs::create_dir_all(fixture.path().join("modules")).expect("mkdir");
    symlink(
        outside.path().join("evil.wasm"),
        fixture.path().join("modules/linked.wasm"),
    )
    .expect("symlink");
    symlink("/dev/zero", fixture.path().join("modules/zero.wasm")).expect("symlink");
    mkfifo(&fixture.path().join("modules/pipe.wasm"));
    std::fs::create_dir_all(fixture.path().join("modules/folder.wasm")).expect("mkdir");
    fixture.write(
        "strata.toml",
        &format!(
            "[modules.climb]\npath = \"../outside/evil.wasm\"\nsha256 = \"{NO_DIGEST}\"\n\n\
             [modules.absolute]\npath = \"/etc/passwd\"\nsha256 = \"{NO_DIGEST}\"\n\n\
             [modules.linked]\npath = \"modules/linked.wasm\"\nsha256 = \"{NO_DIGEST}\"\n\n\
             [modules.zero]\npath = \"modules/zero.wasm\"\nsha256 = \"{NO_DIGEST}\"\n\n\
             [modules.pipe]\npath = \"modules/pipe.wasm\"\nsha256 = \"{NO_DIGEST}\"\n\n\
             [modules.folder]\npath = \"modules/folder.wasm\"\nsha256 = \"{NO_DIGEST}\"\n"
        ),
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    let transcript = out
        .transcript(&fixture)
        .replace(&outside.path().display().to_string(), "[OUTSIDE]");
    assert!(
        !transcript.contains("root:"),
        "nothing of /etc/passwd is shown"
    );
    insta::assert_snapshot!(transcript);
}

#[test]
fn environment_entries_that_are_not_files_are_reported_not_skipped() {
    let fixture = Fixture::empty();
    fixture.write("environments/dev.toml", ENVIRONMENT);
    let environments = fixture.path().join("environments");
    mkfifo(&environments.join("pipe.toml"));
    symlink("nowhere.toml", environments.join("dangling.toml")).expect("symlink");
    symlink("loop.toml", environments.join("loop.toml")).expect("symlink");
    std::fs::create_dir_all(environments.join("folder.toml")).expect("mkdir");
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("x.toml"), ENVIRONMENT).expect("write");
    symlink(
        outside.path().join("x.toml"),
        environments.join("escape.toml"),
    )
    .expect("symlink");
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    let transcript = out
        .transcript(&fixture)
        .replace(&outside.path().display().to_string(), "[OUTSIDE]");
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_byte_that_is_not_utf8_is_located() {
    let fixture = Fixture::empty();
    let mut bytes = ENVIRONMENT.as_bytes().to_vec();
    bytes.extend_from_slice(b"note = \"caf\xe9\"\n");
    fixture.write_bytes("environments/dev.toml", &bytes);
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript(&fixture));
}

#[test]
fn bare_carriage_returns_are_named_with_the_fix() {
    let fixture = Fixture::empty();
    fixture.write("environments/dev.toml", &ENVIRONMENT.replace('\n', "\r"));
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript(&fixture));
}

#[test]
fn settings_written_under_tags_are_pointed_at_with_where_they_belong() {
    let fixture = Fixture::empty();
    fixture.write(
        "environments/dev.toml",
        "project = \"shop\"\nenvironment = \"dev\"\n\n[tags]\nCostCenter = \"engineering\"\n\
         Owner = \"platform\"\nregion = \"us-east-1\"\nprotected = true\n\n[stacks.jobs]\ntype = \"sqs\"\n",
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    let transcript = out.transcript(&fixture);
    assert!(!transcript.contains("quote the value"), "{transcript}");
    assert!(!transcript.contains("has no `region`"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_project_of_the_wrong_type_is_one_error_without_a_missing_tag() {
    let fixture = Fixture::empty();
    fixture.write(
        "environments/dev.toml",
        &ENVIRONMENT.replace("project = \"shop\"", "project = 42"),
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    let transcript = out.transcript(&fixture);
    assert!(!transcript.contains("Application"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_header_nested_thousands_deep_is_located_without_parser_words() {
    let fixture = Fixture::empty();
    let header = vec!["a"; 5000].join(".");
    fixture.write(
        "environments/dev.toml",
        &format!("{ENVIRONMENT}\n[{header}]\nx = 1\n"),
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    let transcript = out.transcript(&fixture);
    assert!(!transcript.contains("recursion"), "{transcript}");
    assert!(
        transcript.contains("environments/dev.toml:12:1"),
        "{transcript}"
    );
}

#[test]
fn a_megabyte_line_gets_a_location_not_a_megabyte_of_underline() {
    let fixture = Fixture::empty();
    let long = "a".repeat(1 << 20);
    fixture.write(
        "environments/dev.toml",
        &format!("{ENVIRONMENT}note = \"{long}\"\n"),
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of stderr",
        out.stderr.len()
    );
    insta::assert_snapshot!(out.transcript(&fixture));
}

#[test]
fn an_integer_beyond_the_field_type_is_out_of_range_at_its_key() {
    let fixture = Fixture::empty();
    fixture.write(
        "environments/dev.toml",
        &format!("{ENVIRONMENT}max_receive_count = 4294967296\n"),
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    let transcript = out.transcript(&fixture);
    assert!(!transcript.contains("expected u32"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn two_files_deploying_the_same_environment_are_refused() {
    let fixture = Fixture::empty();
    fixture.write("environments/dev.toml", ENVIRONMENT);
    fixture.write("environments/dev-copy.toml", ENVIRONMENT);
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.transcript(&fixture));
}

#[test]
fn env_takes_the_file_path_a_shell_completes() {
    let fixture = Fixture::empty();
    fixture.write("environments/dev.toml", ENVIRONMENT);
    let out = strata(&fixture, &["validate", "--env", "environments/dev.toml"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    let out = strata(&fixture, &["validate", "--env", "dev.toml"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
}

#[test]
fn a_transposed_flag_gets_a_did_you_mean() {
    let fixture = Fixture::empty();
    let out = strata(&fixture, &["validate", "--evn", "dev"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("'--env'"), "{}", out.stderr);
}

#[test]
fn a_bad_sandbox_setting_does_not_hide_the_environment_files_errors() {
    let fixture = Fixture::empty();
    fixture.write("strata.toml", "[sandbox]\nmemory_mib = 0\n");
    fixture.write(
        "environments/dev.toml",
        &ENVIRONMENT.replace("region = \"us-east-1\"", "region = \"us-east-9\""),
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2);
    let transcript = out.transcript(&fixture);
    assert!(transcript.contains("memory_mib"), "{transcript}");
    assert!(transcript.contains("us-east-9"), "{transcript}");
    // Commands that would use the sandbox stop at it.
    let out = strata(&fixture, &["render", "--out", "out"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
}

#[test]
fn a_files_own_errors_and_its_stacks_schema_errors_are_reported_together() {
    let fixture = Fixture::empty();
    fixture.write(
        "environments/dev.toml",
        "project = \"shop\"\nenvironment = \"dev\"\nregion = \"us-east-9\"\n\n[tags]\nOwner = \"platform\"\n\n\
         [stacks.jobs]\ntype = \"sqs\"\nqueus = [\"jobs\"]\n\n[stacks.net]\ntype = \"networking\"\navailability_zones = \"two\"\n",
    );
    let out = strata(&fixture, &["validate", "--env", "dev"]);
    assert_eq!(out.code, 2);
    let transcript = out.transcript(&fixture);
    for expected in [
        "unknown AWS region `us-east-9`",
        "required tag `CostCenter`",
        "unknown key `queus`",
        "`availability_zones`",
    ] {
        assert!(transcript.contains(expected), "{expected}: {transcript}");
    }
    assert!(transcript.contains("4 errors"), "{transcript}");
}

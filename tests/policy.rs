//! Policies as a repository meets them: the built-in `guarantees` policy
//! holds every stack to the reference architecture's guarantees, whoever
//! wrote its module; `strata.toml` adds the repository's own policies and
//! sets a rule's severity per environment. Findings show in `validate` and
//! in plans; error findings fail `validate` (exit 1) and block applies.

use strata_tests::{Fixture, Run, run, test_guests_dir};

fn strata(fixture: &Fixture, args: &[&str]) -> Run {
    run(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        fixture,
        args,
    )
}

fn guest(name: &str) -> Vec<u8> {
    let path = test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join(format!("test_guest_{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A repository pinning the `careless` module (and the `house-rules`
/// policy, with `policies` appended to `strata.toml`), with environment
/// `name` holding one careless stack per flaw.
fn repository(name: &str, flaws: &[(&str, &str)], policies: &str) -> Fixture {
    let fixture = Fixture::empty();
    let careless = guest("careless");
    let house_rules = guest("house_rules");
    fixture.write_bytes("modules/careless.wasm", &careless);
    fixture.write_bytes("policies/house-rules.wasm", &house_rules);
    fixture.write(
        "strata.toml",
        &format!(
            "[modules.careless]\npath = \"modules/careless.wasm\"\nsha256 = \"{}\"\n{}",
            strata::modules::sha256_hex(&careless),
            policies.replace(
                "HOUSE_RULES_SHA256",
                &strata::modules::sha256_hex(&house_rules)
            )
        ),
    );
    let mut environment = format!(
        "project = \"acme\"\nenvironment = \"{name}\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n"
    );
    for (stack, flaw) in flaws {
        environment.push_str(&format!(
            "\n[stacks.{stack}]\ntype = \"careless\"\nflaw = \"{flaw}\"\n"
        ));
    }
    fixture.write(&format!("environments/{name}.toml"), &environment);
    fixture
}

fn redacted(fixture: &Fixture, out: &Run) -> String {
    let re = regex::Regex::new(r"[0-9a-f]{64}").expect("a valid pattern");
    re.replace_all(&out.transcript(fixture), "[SHA256]")
        .into_owned()
}

const HOUSE_RULES: &str = "\n[policies.house-rules]\npath = \"policies/house-rules.wasm\"\nsha256 = \"HOUSE_RULES_SHA256\"\n";

#[test]
fn the_built_in_policy_fails_validate_on_an_untagged_resource_and_a_foreign_name() {
    let fixture = repository(
        "dev",
        &[
            ("auth", "untagged"),
            ("jobs", "foreign-name"),
            ("fine", "none"),
        ],
        "",
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    assert!(
        out.stderr.contains("policy `guarantees`, rule `tags`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("policy `guarantees`, rule `names`"),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(redacted(&fixture, &out));
}

#[test]
fn severity_settings_lower_or_turn_off_a_rule_per_environment() {
    let settings = format!(
        "{HOUSE_RULES}\n[policies.guarantees.rules.tags]\nseverity = \"warning\"\n\n[policies.guarantees.rules.names]\nenvironments = {{ dev = \"off\" }}\n"
    );
    let fixture = repository(
        "dev",
        &[("auth", "untagged"), ("jobs", "foreign-name")],
        &settings,
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    assert!(!out.stderr.contains("rule `names`"), "{}", out.stderr);
    insta::assert_snapshot!(redacted(&fixture, &out));
}

#[test]
fn a_setting_for_an_unknown_rule_is_an_error_with_a_suggestion() {
    let fixture = repository(
        "dev",
        &[("fine", "none")],
        "\n[policies.guarantees.rules.multiaz]\nseverity = \"warning\"\n\n[policies.guarantees.rules.tags]\nenvironments = { prd = \"off\" }\n",
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    assert!(
        out.stderr.contains("did you mean `multi-az`?"),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(redacted(&fixture, &out));
}

#[test]
fn a_bad_severity_and_a_missing_pin_are_refused_when_strata_toml_loads() {
    let fixture = repository(
        "dev",
        &[("fine", "none")],
        "\n[policies.guarantees.rules.tags]\nseverity = \"warn\"\n\n[policies.mine]\n",
    );
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 2, "{}", out.transcript(&fixture));
    insta::assert_snapshot!(redacted(&fixture, &out));
}

/// A git repository with `careless` pinned and environment `dev` holding an
/// untagged stack (an error finding) and a queue without a retention period
/// (a `house-rules` warning).
fn git_repository() -> strata_tests::GitFixture {
    let mut repo = strata_tests::GitFixture::new();
    let careless = guest("careless");
    let house_rules = guest("house_rules");
    repo.fixture.write_bytes("modules/careless.wasm", &careless);
    repo.fixture
        .write_bytes("policies/house-rules.wasm", &house_rules);
    repo.write(
        "strata.toml",
        &format!(
            "[modules.careless]\npath = \"modules/careless.wasm\"\nsha256 = \"{}\"\n{}",
            strata::modules::sha256_hex(&careless),
            HOUSE_RULES.replace(
                "HOUSE_RULES_SHA256",
                &strata::modules::sha256_hex(&house_rules)
            )
        ),
    );
    repo.write(
        "environments/dev.toml",
        "project = \"acme\"\nenvironment = \"dev\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.auth]\ntype = \"careless\"\nflaw = \"untagged\"\n",
    );
    repo.commit("dev: an untagged user pool");
    repo
}

#[test]
fn a_plan_lists_what_the_policies_found_in_every_format() {
    let repo = git_repository();
    for format in ["terminal", "markdown", "json"] {
        let out = strata(
            &repo.fixture,
            &["plan", "--env", "dev", "--base", "none", "--format", format],
        );
        assert_eq!(out.code, 1, "{}", out.transcript(&repo.fixture));
        insta::with_settings!({ filters => vec![(r#""[0-9a-f]{64}""#, "\"[sha256]\""), (r"\([0-9a-f]{12}\)", "([sha256])"), (r#""strata": "[^"]+""#, "\"strata\": \"[version]\"")] }, {
            insta::assert_snapshot!(format!("plan_{format}"), out.stdout);
        });
    }
}

#[test]
fn an_apply_is_refused_while_the_plan_has_error_findings() {
    let repo = git_repository();
    let out = strata(
        &repo.fixture,
        &["apply", "--env", "dev", "--base", "none", "--yes"],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&repo.fixture));
    assert!(
        out.stderr
            .contains("the plan of `dev` has 1 policy error; nothing was applied"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("auth/UserPool Properties.UserPoolTags"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_policy_that_panics_fails_validate_naming_the_policy() {
    let fixture = repository("panic", &[("fine", "none")], HOUSE_RULES);
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 1, "{}", out.transcript(&fixture));
    insta::assert_snapshot!(redacted(&fixture, &out));
}

#[test]
fn a_finding_about_a_value_the_user_wrote_points_at_its_key() {
    let fixture = repository("dev", &[], HOUSE_RULES);
    let path = fixture.path().join("environments/dev.toml");
    let mut environment = std::fs::read_to_string(&path).expect("dev.toml");
    environment.push_str(
        "\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.0.0.0/16\"\navailability_zones = 2\nnat_gateways = 1\n",
    );
    fixture.write("environments/dev.toml", &environment);
    let out = strata(&fixture, &["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&fixture));
    assert!(
        out.stderr.contains("[environments/dev.toml:11:8]"),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(redacted(&fixture, &out));
}

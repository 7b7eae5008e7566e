//! Rendering a whole environment: one bad stack never stops the others, and
//! the same input always gives the same bytes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use strata::config::{self, RepoConfig, SourceFile};
use strata::host::{Host, Limits};
use strata::modules::{Registry, sha256_hex};
use strata::plan;
use strata::render::render_environment;
use strata::workspace::Workspace;

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    let limits = Limits {
        timeout: std::time::Duration::from_millis(200),
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    HOST.get_or_init(|| Host::new(limits, Some(cache)).expect("host starts"))
}

fn guest_bytes() -> Vec<u8> {
    let path = PathBuf::from(env!("STRATA_TEST_GUESTS")).join("test_guest_misbehaving.wasm");
    std::fs::read(path).expect("test guest built by build.rs")
}

/// The built-in modules plus the misbehaving guest, declared as in a repo.
fn registry() -> Registry {
    let bytes = guest_bytes();
    let text = format!(
        "[modules.misbehaving]\npath = \"guest.wasm\"\nsha256 = \"{}\"\n",
        sha256_hex(&bytes)
    );
    let repo = RepoConfig::parse(SourceFile::new("strata.toml", text)).expect("strata.toml parses");
    Registry::load_with(&repo, |_| Ok(bytes.clone())).expect("pin matches")
}

const HEADER: &str = "project = \"acme\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"eng\"\nOwner = \"platform\"\n";

#[test]
fn a_trapping_module_fails_only_its_own_stack() {
    let registry = registry();
    let text = format!(
        "{HEADER}\n[stacks.networking]\ntype = \"networking\"\n\n[stacks.topic]\ntype = \"misbehaving\"\n\n\
         [stacks.spinner]\ntype = \"misbehaving\"\nmisbehave = \"loop\"\n\n\
         [stacks.crasher]\ntype = \"misbehaving\"\nmisbehave = \"panic\"\n"
    );
    let types = registry.types();
    let (environment, _) = config::parse_environment(
        "dev",
        SourceFile::new("environments/dev.toml", text),
        &types,
    )
    .expect("valid file");
    let outcome = render_environment(host(), &registry, &environment);
    assert!(
        outcome.rendered().is_none(),
        "the environment as a whole failed"
    );
    let rendered: Vec<&str> = outcome.rendered_stacks.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        rendered,
        ["networking", "topic"],
        "the other stacks still rendered"
    );
    let errors: Vec<&str> = outcome
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("module `misbehaving` timed out")
                && e.contains("stack `spinner`"))
    );
    assert!(
        errors.iter().any(
            |e| e.starts_with("module `misbehaving` panicked") && e.contains("stack `crasher`")
        )
    );
}

#[test]
fn rendering_twice_gives_byte_identical_templates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = Workspace::load(&root).expect("repo loads");
    for name in workspace.environment_names() {
        let (environment, _) = workspace
            .environment(&name)
            .expect("example environment is valid");
        let first = render_environment(host(), &workspace.registry, &environment)
            .into_rendered()
            .expect("renders");
        let second = render_environment(host(), &workspace.registry, &environment)
            .into_rendered()
            .expect("renders");
        for (stack, rendered) in &first.stacks {
            assert_eq!(
                rendered.text(),
                second.stacks[stack].text(),
                "{name}/{stack} differs between renders"
            );
            assert_eq!(rendered.sha256, sha256_hex(rendered.text().as_bytes()));
        }
    }
}

#[test]
fn an_environment_variable_importing_a_queue_url_deploys_after_the_queue() {
    let registry = Registry::embedded();
    let text = format!(
        "{HEADER}\n[stacks.networking]\ntype = \"networking\"\n\n[stacks.security]\ntype = \"security\"\n\n\
         [stacks.jobs]\ntype = \"sqs\"\nqueues = [\"emails\"]\n\n\
         [stacks.app]\ntype = \"compute\"\ndatabase_stack = \"\"\nsqs_stack = \"\"\nsecrets_stack = \"\"\n\
         s3_stack = \"\"\necr_stack = \"\"\ncertificate_stack = \"\"\n\n\
         [stacks.app.services.worker]\nimage = \"public.ecr.aws/docker/library/busybox:1.36\"\n\n\
         [stacks.app.environment_variables]\nEMAILS_QUEUE = {{ import = \"jobs.emails-queue-url\" }}\n"
    );
    let types = registry.types();
    let (environment, _) = config::parse_environment(
        "dev",
        SourceFile::new("environments/dev.toml", text),
        &types,
    )
    .expect("valid file");
    let outcome = render_environment(host(), &registry, &environment);
    let rendered = outcome
        .rendered()
        .unwrap_or_else(|| panic!("renders: {:#?}", outcome.diagnostics));
    let wave_of = |stack: &str| {
        rendered
            .waves
            .iter()
            .position(|wave| wave.stacks.iter().any(|s| s.as_str() == stack))
            .unwrap_or_else(|| panic!("`{stack}` is in a wave"))
    };
    assert!(wave_of("jobs") < wave_of("app"), "{:?}", rendered.waves);
    let app = &rendered
        .stacks
        .iter()
        .find(|(n, _)| n.as_str() == "app")
        .expect("app")
        .1;
    assert!(
        app.text()
            .contains("\"Fn::ImportValue\": \"acme-dev-jobs-emails-queue-url\""),
        "{}",
        app.text()
    );
}

#[test]
fn a_module_pinned_under_a_name_it_does_not_give_itself_is_refused() {
    let bytes = guest_bytes();
    let text = format!(
        "[modules.cognito-bad]\npath = \"guest.wasm\"\nsha256 = \"{}\"\n",
        sha256_hex(&bytes)
    );
    let repo = RepoConfig::parse(SourceFile::new("strata.toml", text)).expect("strata.toml parses");
    let registry = Registry::load_with(&repo, |_| Ok(bytes.clone())).expect("pin matches");
    let types = registry.types();
    let (environment, _) = config::parse_environment(
        "dev",
        SourceFile::new(
            "environments/dev.toml",
            format!("{HEADER}\n[stacks.pool]\ntype = \"cognito-bad\"\n"),
        ),
        &types,
    )
    .expect("valid file");
    let outcome = render_environment(host(), &registry, &environment);
    assert!(outcome.rendered().is_none());
    let error = outcome
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error");
    assert_eq!(
        error.message,
        "module pinned as `cognito-bad` calls itself `misbehaving`"
    );
    assert!(
        error
            .help
            .as_deref()
            .is_some_and(|h| h.contains("[modules.misbehaving]")),
        "{error:?}"
    );
}

/// The built-in modules plus a module of each WIT version: `legacy-queue`
/// (built against `strata:module@0.1.0`) and `user-pool` (0.2.0, declaring
/// its user pool stateful and replaced by `UsernameAttributes`).
fn registry_of_both_wit_versions() -> Registry {
    let guests = PathBuf::from(env!("STRATA_TEST_GUESTS"));
    let legacy = std::fs::read(guests.join("test_guest_wit_0_1.wasm")).expect("0.1 guest built");
    let declaring =
        std::fs::read(guests.join("test_guest_declaring.wasm")).expect("0.2 guest built");
    let text = format!(
        "[modules.legacy-queue]\npath = \"legacy.wasm\"\nsha256 = \"{}\"\n\n\
         [modules.user-pool]\npath = \"declaring.wasm\"\nsha256 = \"{}\"\n",
        sha256_hex(&legacy),
        sha256_hex(&declaring)
    );
    let repo = RepoConfig::parse(SourceFile::new("strata.toml", text)).expect("strata.toml parses");
    Registry::load_with(&repo, |path| {
        Ok(if path.ends_with("legacy.wasm") {
            legacy.clone()
        } else {
            declaring.clone()
        })
    })
    .expect("pins match")
}

/// The terminal plan of `dev` from the environment file `base` to `head`.
fn plan_between(registry: &Registry, base: &str, head: &str) -> String {
    let types = registry.types();
    let render = |text: &str| {
        let (environment, _) = config::parse_environment(
            "dev",
            SourceFile::new("environments/dev.toml", format!("{HEADER}{text}")),
            &types,
        )
        .expect("valid file");
        render_environment(host(), registry, &environment)
            .into_rendered()
            .expect("renders")
    };
    let (before, after) = (render(base), render(head));
    let environment = plan::plan_environment("dev", Some(&before), Some(&after));
    let plan = plan::Plan {
        base: plan::Revision {
            label: "base".into(),
            commit: None,
        },
        head: plan::Revision {
            label: "head".into(),
            commit: None,
        },
        environments: vec![environment],
    };
    plan::terminal::render(&plan, plan::terminal::Colour::Off)
}

#[test]
fn a_plan_shows_the_data_loss_only_the_modules_declaration_reveals() {
    let registry = registry_of_both_wit_versions();
    let plan = plan_between(
        &registry,
        "\n[stacks.auth]\ntype = \"user-pool\"\nsign_in = \"email\"\n",
        "\n[stacks.auth]\ntype = \"user-pool\"\nsign_in = \"phone\"\n",
    );
    assert!(
        !strata::plan::risk::is_stateful("AWS::Cognito::UserPool"),
        "the host's table does not know user pools: only the module's declaration does"
    );
    insta::assert_snapshot!(plan);
}

#[test]
fn a_wit_0_1_module_plans_its_risks_from_the_hosts_table() {
    let registry = registry_of_both_wit_versions();
    let plan = plan_between(
        &registry,
        "\n[stacks.jobs]\ntype = \"legacy-queue\"\nqueue = \"jobs\"\n",
        "\n[stacks.jobs]\ntype = \"legacy-queue\"\nqueue = \"work\"\n",
    );
    insta::assert_snapshot!(plan);
}

#[test]
fn declaring_traits_of_a_resource_the_template_lacks_is_a_malformed_render() {
    let registry = registry();
    let text =
        format!("{HEADER}\n[stacks.topic]\ntype = \"misbehaving\"\nmisbehave = \"stray-traits\"\n");
    let types = registry.types();
    let (environment, _) = config::parse_environment(
        "dev",
        SourceFile::new("environments/dev.toml", text),
        &types,
    )
    .expect("valid file");
    let outcome = render_environment(host(), &registry, &environment);
    let errors: Vec<&str> = outcome
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        errors,
        [
            "module `misbehaving@0.1.0` returned a malformed template for stack `topic`: \
          it declares traits of resource `Database`, which is not in `Resources`"
        ]
    );
}

#[test]
fn removing_a_stack_deletes_the_data_its_module_declared() {
    let registry = registry_of_both_wit_versions();
    let plan = plan_between(
        &registry,
        "\n[stacks.auth]\ntype = \"user-pool\"\n\n[stacks.jobs]\ntype = \"legacy-queue\"\n",
        "\n[stacks.jobs]\ntype = \"legacy-queue\"\n",
    );
    insta::assert_snapshot!(plan);
}

/// `count` small queue stacks, each depending on the one before; the first
/// also on the last when `ring`; `max_receive_count = 0` (out of range) when
/// `broken`.
fn queues(count: usize, ring: bool, broken: bool) -> String {
    let mut text = String::from(HEADER);
    for i in 1..=count {
        let before = if i == 1 { count } else { i - 1 };
        let needs = if i > 1 || ring {
            format!("depends_on = [\"q{before:04}\"]\n")
        } else {
            String::new()
        };
        let receives = if broken { 0 } else { 3 };
        text.push_str(&format!(
            "\n[stacks.q{i:04}]\ntype = \"sqs\"\n{needs}queues = [\"q{i:04}\"]\nmax_receive_count = {receives}\n"
        ));
    }
    text
}

fn report_of(text: String, limit: usize) -> String {
    let registry = registry();
    let types = registry.types();
    let (environment, _) = config::parse_environment(
        "dev",
        SourceFile::new("environments/dev.toml", text),
        &types,
    )
    .expect("valid file");
    let outcome = render_environment(host(), &registry, &environment);
    strata::config::diagnostic::Report::new(strata::config::diagnostic::Style::Plain)
        .with_limit(limit)
        .render_all(&outcome.diagnostics)
}

#[test]
fn a_cycle_through_two_hundred_stacks_is_spelled_out_to_twelve_of_them() {
    let report = report_of(
        queues(200, true, false),
        strata::config::diagnostic::MAX_SHOWN,
    );
    assert!(report.lines().count() < 120, "{report}");
    insta::assert_snapshot!(report);
}

#[test]
fn two_hundred_broken_stacks_show_thirty_errors_and_count_the_rest() {
    let report = report_of(
        queues(200, false, true),
        strata::config::diagnostic::MAX_SHOWN,
    );
    assert_eq!(report.matches("error: stack `").count(), 30, "{report}");
    assert!(
        report.contains("… and 170 more errors, not shown (30 of 200 shown)"),
        "{report}"
    );
    insta::assert_snapshot!(report_of(queues(5, false, true), 2));
}

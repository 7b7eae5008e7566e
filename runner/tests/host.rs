//! The sandbox, proven with guests written to misbehave (`modules/test-guests`):
//! every limit holds, every escape attempt traps, and each failure names the
//! module and the stack.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata::host::{
    Host, Limits, Module, ModuleError, RenderContext, ResourceTraits, TrapReason, WitVersion,
};
use strata::modules::sha256_hex;

fn guest(name: &str) -> (Vec<u8>, String) {
    let path = PathBuf::from(env!("STRATA_TEST_GUESTS")).join(format!("test_guest_{name}.wasm"));
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("test guest {} missing: {e}", path.display()));
    let digest = sha256_hex(&bytes);
    (bytes, digest)
}

fn limits() -> Limits {
    Limits {
        memory_bytes: 16 << 20,
        timeout: Duration::from_millis(300),
        output_bytes: 1 << 20,
    }
}

fn host() -> Host {
    Host::new(limits(), None).expect("host starts")
}

fn load(host: &Host, name: &str) -> Arc<Module> {
    let (bytes, digest) = guest(name);
    host.load(name, &bytes, &digest).expect("guest loads")
}

fn ctx(stack: &str) -> RenderContext {
    RenderContext {
        project: "acme".into(),
        environment: "test".into(),
        stack: stack.into(),
        region: "us-east-1".into(),
        account: None,
        tags: vec![("Environment".into(), "test".into())],
    }
}

fn misbehave(
    host: &Host,
    module: &Module,
    what: &str,
) -> Result<strata::host::RawRender, ModuleError> {
    let config = format!(r#"{{"misbehave": "{what}"}}"#);
    match host.render(module, &ctx("victim"), &config)? {
        Ok(rendered) => Ok(rendered),
        Err(diagnostics) => panic!("unexpected module diagnostics: {diagnostics:?}"),
    }
}

fn trap_reason(result: Result<strata::host::RawRender, ModuleError>) -> (TrapReason, String) {
    match result {
        Err(error @ ModuleError::Trapped { .. }) => {
            let message = error.to_string();
            let ModuleError::Trapped { reason, .. } = error else {
                unreachable!()
            };
            (reason, message)
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_well_behaved_guest_renders() {
    let host = host();
    let module = load(&host, "misbehaving");
    let rendered = misbehave(&host, &module, "nothing").expect("renders");
    assert_eq!(rendered.exports, ["topic-arn"]);
    assert!(rendered.template.contains("AWS::SNS::Topic"));
}

#[test]
fn stops_an_endless_loop_at_the_deadline() {
    let host = host();
    let module = load(&host, "misbehaving");
    let started = Instant::now();
    let (reason, message) = trap_reason(misbehave(&host, &module, "loop"));
    assert_eq!(reason, TrapReason::TimedOut(Duration::from_millis(300)));
    assert_eq!(
        message,
        "module `misbehaving` timed out after 300 ms while rendering stack `victim`"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the deadline took {:?}",
        started.elapsed()
    );
}

#[test]
fn stops_memory_growth_at_the_cap() {
    let host = host();
    let module = load(&host, "misbehaving");
    let (reason, message) = trap_reason(misbehave(&host, &module, "grow-memory"));
    assert_eq!(reason, TrapReason::OutOfMemory { limit: 16 << 20 });
    assert_eq!(
        message,
        "module `misbehaving` ran out of memory (it tried to grow past the 16 MiB cap) while rendering stack `victim`"
    );
}

#[test]
fn reports_a_panic_with_its_message() {
    let host = host();
    let module = load(&host, "misbehaving");
    let result = misbehave(&host, &module, "panic");
    let Err(ModuleError::Trapped {
        reason,
        log,
        module,
        stack,
    }) = result
    else {
        panic!("expected a trap: {result:?}")
    };
    assert_eq!((module.as_str(), stack.as_str()), ("misbehaving", "victim"));
    let TrapReason::Panicked(Some(message)) = reason else {
        panic!("expected a panic, got {reason:?}")
    };
    assert!(
        message.starts_with(
            "the stack table had no `answer` key (at test-guests/misbehaving/src/lib.rs:"
        ),
        "{message}"
    );
    assert_eq!(log, ["about to look for the answer"]);
}

#[test]
fn refuses_output_over_the_cap() {
    let host = Host::new(
        Limits {
            memory_bytes: 64 << 20,
            ..limits()
        },
        None,
    )
    .expect("host starts");
    let module = load(&host, "misbehaving");
    match misbehave(&host, &module, "oversized-output") {
        Err(ModuleError::OutputTooLarge { bytes, cap, .. }) => {
            assert!(bytes > 5 << 20);
            assert_eq!(cap, 1 << 20);
        }
        other => panic!("expected the output cap, got {other:?}"),
    }
}

#[test]
fn keeps_only_the_last_log_lines_of_a_flood() {
    // A hundred thousand host calls: give it time even on a busy machine.
    let host = Host::new(
        Limits {
            timeout: Duration::from_secs(20),
            ..limits()
        },
        None,
    )
    .expect("host starts");
    let module = load(&host, "misbehaving");
    let rendered = misbehave(&host, &module, "flood-log").expect("renders");
    assert_eq!(
        rendered.log.len(),
        21,
        "20 lines and a note of what was dropped"
    );
    assert_eq!(rendered.log[0], "(99980 earlier lines not kept)");
    assert!(rendered.log[20].starts_with("line 99999: "));
}

fn escape(reach: &str) -> (TrapReason, String) {
    let host = host();
    let module = load(&host, "escaping");
    let config = format!(r#"{{"reach": "{reach}"}}"#);
    match host.render(&module, &ctx("burglar"), &config) {
        Err(error @ ModuleError::Trapped { .. }) => {
            let message = error.to_string();
            let ModuleError::Trapped { reason, .. } = error else {
                unreachable!()
            };
            (reason, message)
        }
        Ok(answer) => panic!("`{reach}` escaped the sandbox: {answer:?}"),
        Err(other) => panic!("expected a trap, got {other:?}"),
    }
}

fn forbidden(reason: &TrapReason) -> &str {
    match reason {
        TrapReason::ForbiddenImport(import) => import,
        other => panic!("expected a forbidden import, got {other:?}"),
    }
}

#[test]
fn denies_a_guest_that_reads_a_file() {
    let (reason, message) = escape("file");
    assert!(
        forbidden(&reason).starts_with("wasi:filesystem/"),
        "{reason:?}"
    );
    assert!(
        message.ends_with(
            "the sandbox gives modules no filesystem, network, environment, clock or randomness"
        ),
        "{message}"
    );
    assert!(
        message.contains("while rendering stack `burglar`"),
        "{message}"
    );
}

#[test]
fn denies_a_guest_that_reads_the_clock() {
    let (reason, _) = escape("clock");
    assert!(forbidden(&reason).starts_with("wasi:clocks/"), "{reason:?}");
}

#[test]
fn a_guest_that_reads_the_environment_finds_it_empty() {
    // Rust's panic hook reads `RUST_BACKTRACE`, so the environment is
    // there, and empty: nothing of the host's reaches a module.
    let host = host();
    let module = load(&host, "escaping");
    let answer = host.render(&module, &ctx("burglar"), r#"{"reach": "env"}"#);
    let text = format!("{answer:?}");
    assert!(text.contains("environment variable not found"), "{text}");
    if let Some(home) = std::env::var_os("HOME") {
        assert!(!text.contains(&*home.to_string_lossy()), "{text}");
    }
}

#[test]
fn denies_a_guest_that_asks_for_randomness() {
    let (reason, _) = escape("random");
    assert!(forbidden(&reason).starts_with("wasi:random/"), "{reason:?}");
}

#[test]
fn a_guest_that_stays_inside_renders() {
    let host = host();
    let module = load(&host, "escaping");
    let answer = host
        .render(&module, &ctx("honest"), r#"{"reach": "nowhere"}"#)
        .expect("no trap");
    assert!(
        answer
            .expect("renders")
            .template
            .contains("nothing asked for: nowhere")
    );
}

#[test]
fn refuses_a_module_built_for_another_wit_version() {
    let host = host();
    let (bytes, digest) = guest("future_wit");
    let error = host.load("future", &bytes, &digest).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "module `future` was built against `strata:module/stack-module@0.3.0`, but this strata accepts \
         `strata:module@0.1.x` and `strata:module@0.2.x` (it implements `strata:module@0.2.0`)"
    );
}

#[test]
fn a_module_built_against_wit_0_1_still_loads_and_renders_without_declarations() {
    let host = host();
    let module = load(&host, "wit_0_1");
    assert_eq!(module.wit_export, "strata:module/stack-module@0.1.0");
    assert_eq!(module.wit_version, WitVersion::V0_1);
    assert_eq!(module.info.name, "legacy-queue");
    let rendered = host
        .render(&module, &ctx("jobs"), r#"{"queue": "jobs"}"#)
        .expect("no trap")
        .expect("renders");
    assert!(
        rendered.template.contains("acme-test-jobs"),
        "{}",
        rendered.template
    );
    assert_eq!(rendered.exports, ["queue-url"]);
    assert!(
        rendered.resource_traits.is_empty(),
        "a 0.1 module cannot declare any"
    );
}

#[test]
fn a_module_built_against_wit_0_2_declares_a_stateful_resource_the_host_does_not_know() {
    let host = host();
    let module = load(&host, "declaring");
    assert_eq!(module.wit_export, "strata:module/stack-module@0.2.0");
    assert_eq!(module.wit_version, WitVersion::V0_2);
    let rendered = host
        .render(&module, &ctx("auth"), r#"{"sign_in": "email"}"#)
        .expect("no trap")
        .expect("renders");
    assert!(!strata::plan::risk::is_stateful("AWS::Cognito::UserPool"));
    assert_eq!(
        rendered.resource_traits.get("UserPool"),
        Some(&ResourceTraits {
            stateful: true,
            replaced_by: vec!["UsernameAttributes".into()],
        })
    );
}

#[test]
fn first_party_modules_declare_their_stateful_resources_from_the_sdk_table() {
    let host = host();
    let registry = strata::modules::Registry::embedded();
    let sqs = registry.get("sqs").expect("the sqs module is built in");
    let module = host
        .load(&sqs.name, &sqs.bytes, &sqs.sha256)
        .expect("loads");
    assert_eq!(module.wit_version, WitVersion::V0_2);
    let rendered = host
        .render(&module, &ctx("jobs"), r#"{"queues": ["background-jobs"]}"#)
        .expect("no trap")
        .expect("renders");
    assert!(
        rendered
            .resource_traits
            .values()
            .any(|t| t.stateful && t.replaced_by.iter().any(|p| p == "QueueName")),
        "{:?}",
        rendered.resource_traits
    );
}

#[test]
fn refuses_bytes_that_are_not_a_component() {
    let host = host();
    let error = host
        .load("junk", b"\0asm not really", "00")
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .starts_with("module `junk` is not a valid component"),
        "{error}"
    );
}

#[test]
fn a_trap_leaves_the_host_able_to_render_again() {
    let host = host();
    let module = load(&host, "misbehaving");
    assert!(misbehave(&host, &module, "loop").is_err());
    assert!(misbehave(&host, &module, "grow-memory").is_err());
    assert!(misbehave(&host, &module, "nothing").is_ok());
}

#[test]
fn caches_compiled_modules_on_disk_by_digest() {
    let cache = tempfile::tempdir().expect("temp dir");
    let (bytes, digest) = guest("misbehaving");
    {
        let host = Host::new(limits(), Some(cache.path().to_path_buf())).expect("host");
        host.load("misbehaving", &bytes, &digest).expect("compiles");
    }
    let cached: Vec<String> = std::fs::read_dir(cache.path().join("components"))
        .expect("cache dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cached.len(), 1);
    assert!(
        cached[0].starts_with(&digest) && cached[0].ends_with(".cwasm"),
        "{cached:?}"
    );

    // A second host loads from the cache.
    {
        let host = Host::new(limits(), Some(cache.path().to_path_buf())).expect("host");
        let module = host
            .load("misbehaving", &bytes, &digest)
            .expect("loads from cache");
        assert!(misbehave(&host, &module, "nothing").is_ok());
    }
    // A corrupt entry is compiled again. (Replaced, not truncated in place:
    // cached files are mapped into memory while a module is loaded, which is
    // why the cache itself only ever writes by rename.)
    let entry = cache.path().join("components").join(&cached[0]);
    std::fs::remove_file(&entry).expect("remove");
    std::fs::write(&entry, b"garbage").expect("corrupt");
    let host = Host::new(limits(), Some(cache.path().to_path_buf())).expect("host");
    let module = host
        .load("misbehaving", &bytes, &digest)
        .expect("recompiles");
    assert!(misbehave(&host, &module, "nothing").is_ok());
}

#[test]
fn describes_first_party_modules_with_a_json_schema() {
    let host = host();
    for module in strata::modules::Registry::embedded().iter() {
        let loaded = host
            .load(&module.name, &module.bytes, &module.sha256)
            .expect("first-party module loads");
        assert_eq!(loaded.info.name, module.name);
        let schema: serde_json::Value =
            serde_json::from_str(&loaded.info.config_schema).expect("schema is JSON");
        assert_eq!(schema["type"], "object", "{}: {schema}", module.name);
        assert_eq!(
            schema["additionalProperties"], false,
            "{}: unknown keys must be refused",
            module.name
        );
    }
}

fn module_diagnostics(
    host: &Host,
    module: &Module,
    what: &str,
) -> Vec<strata::host::ModuleDiagnostic> {
    let config = format!(r#"{{"misbehave": "{what}"}}"#);
    match host.render(module, &ctx("victim"), &config) {
        Ok(Err(diagnostics)) => diagnostics,
        other => panic!("expected module diagnostics, got {other:?}"),
    }
}

fn roomy_host() -> Host {
    Host::new(
        Limits {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(20),
            output_bytes: 4 << 20,
        },
        None,
    )
    .expect("host starts")
}

#[test]
fn a_flood_of_diagnostics_is_cut_to_a_hundred_and_a_count() {
    let host = roomy_host();
    let module = load(&host, "misbehaving");
    let diagnostics = module_diagnostics(&host, &module, "flood-diagnostics");
    assert_eq!(diagnostics.len(), strata::host::MAX_MODULE_DIAGNOSTICS + 1);
    assert_eq!(
        diagnostics.last().map(|d| d.message.as_str()),
        Some("and 699900 more from the module, not shown")
    );
}

#[test]
fn a_flood_of_warnings_is_cut_the_same_way() {
    let host = roomy_host();
    let module = load(&host, "misbehaving");
    let rendered = misbehave(&host, &module, "flood-warnings").expect("renders");
    assert_eq!(
        rendered.warnings.len(),
        strata::host::MAX_MODULE_DIAGNOSTICS + 1
    );
}

#[test]
fn half_a_million_imports_are_refused_as_malformed() {
    let host = roomy_host();
    let module = load(&host, "misbehaving");
    match misbehave(&host, &module, "flood-imports") {
        Err(ModuleError::Malformed { reason, .. }) => assert_eq!(
            reason,
            "it imports 500000 outputs; a template may import at most 1000"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match misbehave(&host, &module, "many-exports") {
        Err(ModuleError::Malformed { reason, .. }) => assert_eq!(
            reason,
            "it exports 300 outputs; CloudFormation allows at most 200"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn escape_sequences_in_diagnostics_and_logs_are_shown_not_sent() {
    let host = host();
    let module = load(&host, "misbehaving");
    let diagnostics = module_diagnostics(&host, &module, "escapes");
    let d = &diagnostics[0];
    assert_eq!(d.message, "\\e[31mred\\e[0m\\rall is fine \\u{202e}txt.exe");
    assert_eq!(
        d.help.as_deref(),
        Some("\\e]8;;https://evil.example\\u{7}trust me\\e]8;;\\u{7}")
    );
    for text in [&d.message, d.help.as_deref().unwrap_or_default()] {
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    }
}

#[test]
fn a_stack_overflow_is_named_as_one() {
    let host = roomy_host();
    let module = load(&host, "misbehaving");
    let (reason, message) = trap_reason(misbehave(&host, &module, "recurse"));
    assert!(
        message.contains("overflowed its stack") || message.contains("its stack overflowed"),
        "{reason:?}: {message}"
    );
}

#[test]
fn a_plain_std_panic_keeps_its_message() {
    let host = host();
    let module = load(&host, "misbehaving");
    let (reason, message) = trap_reason(misbehave(&host, &module, "plain-panic"));
    assert!(
        message.contains(
            "panicked while rendering stack `victim`: a plain std panic with its message \
             (at test-guests/misbehaving/src/lib.rs:"
        ),
        "{reason:?}: {message}"
    );
}

#[test]
fn a_schema_the_host_cannot_use_is_refused_when_loading() {
    let host = host();
    let (bytes, digest) = guest("bad_schema");
    match host.load("bad-schema", &bytes, &digest) {
        Err(error @ ModuleError::BadSchema { .. }) => assert_eq!(
            error.to_string(),
            "module `bad-schema` describes its config with an unusable schema: \
             `/properties/name/pattern` is not a regular expression: error: unclosed character class; \
             `/properties/size/type` is `42`, not one of null, boolean, object, array, number, integer, string"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// Policy modules run in the same sandbox, under the same limits.

fn policy_input(name: &str) -> strata::host::policy::PolicyInput {
    use strata::host::policy::{PolicyInput, PolicyModuleRef, PolicyStack};
    PolicyInput {
        project: "acme".into(),
        environment: name.into(),
        name: name.into(),
        region: "us-east-1".into(),
        account: None,
        production: false,
        tags: vec![("Environment".into(), name.into())],
        stacks: vec![PolicyStack {
            name: "jobs".into(),
            stack_type: "sqs".into(),
            module: PolicyModuleRef {
                name: "sqs".into(),
                version: "0.1.0".into(),
                digest: "0".repeat(64),
            },
            template: r#"{"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}"#
                .into(),
            exports: vec![],
            imports: vec![],
        }],
    }
}

fn house_rules(host: &Host) -> Arc<strata::host::policy::Policy> {
    let (bytes, digest) = guest("house_rules");
    host.load_policy("house-rules", &bytes, &digest)
        .expect("the policy loads")
}

#[test]
fn a_policy_describes_its_rules_and_returns_findings() {
    let host = host();
    let policy = house_rules(&host);
    assert_eq!(policy.info.name, "house-rules");
    assert_eq!(policy.info.rules[0].id, "queue-retention");
    let findings = host
        .evaluate_policy(&policy, &policy_input("dev"))
        .expect("evaluates");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, "queue-retention");
    assert_eq!(findings[0].stack, "jobs");
    assert_eq!(findings[0].resource.as_deref(), Some("Queue"));
    assert_eq!(findings[0].path, "Properties.MessageRetentionPeriod");
}

#[test]
fn a_policy_that_traps_is_an_error_naming_the_policy() {
    use strata::host::policy::PolicyError;
    let host = host();
    let policy = house_rules(&host);
    let trapped = |env: &str| match host.evaluate_policy(&policy, &policy_input(env)) {
        Err(PolicyError::Trapped { reason, log, .. }) => (reason, log),
        other => panic!("expected a trap in `{env}`, got {other:?}"),
    };
    let started = Instant::now();
    let (reason, _) = trapped("loop");
    assert_eq!(reason, TrapReason::TimedOut(limits().timeout));
    assert!(started.elapsed() < Duration::from_secs(5));
    let (reason, _) = trapped("grow-memory");
    // The cap: the sandbox's 16 MiB, plus 16 bytes per byte of templates.
    assert!(
        matches!(reason, TrapReason::OutOfMemory { limit } if (16 << 20..(16 << 20) + (64 << 10)).contains(&limit)),
        "{reason:?}"
    );
    let (reason, log) = trapped("panic");
    match &reason {
        TrapReason::Panicked(Some(message)) => {
            assert!(message.contains("the house has no rules"), "{message}")
        }
        other => panic!("expected a panic message, got {other:?}"),
    }
    assert_eq!(log, ["counting the queues"]);
    let error = host
        .evaluate_policy(&policy, &policy_input("panic"))
        .expect_err("panics");
    assert!(
        error
            .to_string()
            .starts_with("policy `house-rules` panicked while evaluating environment `panic`"),
        "{error}"
    );
    // The host still evaluates afterwards.
    assert!(host.evaluate_policy(&policy, &policy_input("dev")).is_ok());
}

#[test]
fn a_stack_module_is_not_a_policy() {
    use strata::host::policy::PolicyError;
    let host = host();
    let (bytes, digest) = guest("careless");
    match host.load_policy("careless", &bytes, &digest) {
        Err(PolicyError::Invalid { reason, .. }) => {
            assert!(
                reason.contains("does not export `strata:policy/policy-module`"),
                "{reason}"
            )
        }
        other => panic!("expected an invalid policy, got {other:?}"),
    }
}

#[test]
fn a_policy_declared_under_another_name_is_refused() {
    use strata::host::policy::PolicyError;
    let host = host();
    let (bytes, digest) = guest("house_rules");
    match host.load_policy("rules", &bytes, &digest) {
        Err(PolicyError::Misnamed {
            declared,
            describes,
        }) => assert_eq!(
            (declared.as_str(), describes.as_str()),
            ("rules", "house-rules")
        ),
        other => panic!("expected a misnamed policy, got {other:?}"),
    }
}

/// The render cache: a second host over the same cache directory (a second
/// process) renders nothing it rendered before, and any change to the
/// module, the context or the config renders again.
#[test]
fn renders_are_kept_on_disk_and_any_change_to_their_inputs_renders_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let first = Host::new(limits(), Some(dir.path().to_path_buf())).expect("host starts");
    let module = load(&first, "misbehaving");
    let config = r#"{"misbehave": "nothing"}"#;
    let original = first
        .render(&module, &ctx("victim"), config)
        .expect("renders")
        .expect("no diagnostics");
    assert_eq!(first.renders_executed(), 1);

    let second = Host::new(limits(), Some(dir.path().to_path_buf())).expect("host starts");
    let module = load(&second, "misbehaving");
    let cached = second
        .render(&module, &ctx("victim"), config)
        .expect("renders")
        .expect("no diagnostics");
    assert_eq!(second.renders_executed(), 0, "served from the render cache");
    assert_eq!(cached.template, original.template);
    assert_eq!(cached.exports, original.exports);

    // Each part of the key, changed alone, renders again.
    let base = ctx("victim");
    let mut changed: Vec<(&str, RenderContext, String)> = Vec::new();
    let mut c = base.clone();
    c.project = "other".into();
    changed.push(("project", c, config.into()));
    let mut c = base.clone();
    c.environment = "staging".into();
    changed.push(("environment", c, config.into()));
    changed.push(("stack", ctx("another"), config.into()));
    let mut c = base.clone();
    c.region = "eu-west-1".into();
    changed.push(("region", c, config.into()));
    let mut c = base.clone();
    c.account = Some("123456789012".into());
    changed.push(("account", c, config.into()));
    let mut c = base.clone();
    c.tags.push(("Owner".into(), "platform".into()));
    changed.push(("tags", c, config.into()));
    changed.push((
        "config",
        base.clone(),
        r#"{"misbehave": "nothing", "extra": 1}"#.into(),
    ));
    for (expected, (part, context, config)) in (1..).zip(changed) {
        second
            .render(&module, &context, &config)
            .expect("renders")
            .expect("no diagnostics");
        assert_eq!(second.renders_executed(), expected, "changing the {part}");
    }
    // Another module (digest) with the same name, context and config.
    let (bytes, _) = guest("misbehaving");
    let mut other_bytes = bytes.clone();
    // A custom section changes the digest and nothing else.
    other_bytes.extend_from_slice(&[0, 4, 1, b'x', 0, 0]);
    let other = second
        .load("misbehaving", &other_bytes, &sha256_hex(&other_bytes))
        .expect("the same component with another digest loads");
    second
        .render(&other, &base, r#"{"misbehave": "nothing"}"#)
        .expect("renders")
        .expect("no diagnostics");
    assert_eq!(second.renders_executed(), 8, "changing the module");

    // Tighter limits are not served renders that fit looser ones.
    let tighter = Host::new(
        Limits {
            output_bytes: 512 << 10,
            ..limits()
        },
        Some(dir.path().to_path_buf()),
    )
    .expect("host starts");
    let module = load(&tighter, "misbehaving");
    tighter
        .render(&module, &base, r#"{"misbehave": "nothing"}"#)
        .expect("renders")
        .expect("no diagnostics");
    assert_eq!(tighter.renders_executed(), 1);
}

#[test]
fn a_damaged_render_file_is_ignored_and_rendered_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let first = Host::new(limits(), Some(dir.path().to_path_buf())).expect("host starts");
    let module = load(&first, "misbehaving");
    let config = r#"{"misbehave": "nothing"}"#;
    first
        .render(&module, &ctx("victim"), config)
        .expect("renders")
        .expect("no diagnostics");
    for entry in std::fs::read_dir(dir.path().join("renders")).expect("the render cache") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, &text[..text.len() / 2]).expect("truncate");
    }
    let second = Host::new(limits(), Some(dir.path().to_path_buf())).expect("host starts");
    let module = load(&second, "misbehaving");
    second
        .render(&module, &ctx("victim"), config)
        .expect("renders")
        .expect("no diagnostics");
    assert_eq!(second.renders_executed(), 1);
}

/// The built-in `guarantees` policy, loaded by `host`.
fn built_in_policy(host: &Host) -> Arc<strata::host::policy::Policy> {
    let registry = strata::modules::Registry::embedded();
    let source = registry.policy("guarantees").expect("the built-in policy");
    host.load_policy("guarantees", &source.bytes, &source.sha256)
        .expect("the built-in policy loads")
}

/// Environment `dev` with `count` stacks, each rendered as `template`.
fn copies_of(template: &str, count: usize) -> strata::host::policy::PolicyInput {
    let mut input = policy_input("dev");
    let one = input.stacks[0].clone();
    input.stacks = (0..count)
        .map(|i| strata::host::policy::PolicyStack {
            name: format!("s{i}"),
            template: template.into(),
            ..one.clone()
        })
        .collect();
    input
}

#[test]
fn the_built_in_policy_holds_one_parsed_template_at_a_time() {
    // 2,000 stacks whose templates are many small objects: parsed all at
    // once they would take about twenty times their text.
    let host = host();
    let policy = built_in_policy(&host);
    let metadata: Vec<String> = (0..60)
        .map(|i| format!(r#""k{i}": {{"Ref": "Topic"}}"#))
        .collect();
    let template = format!(
        r#"{{"Metadata": {{{}}}, "Resources": {{"Topic": {{"Type": "AWS::SNS::Topic", "Properties": {{"KmsMasterKeyId": "alias/aws/sns", "Tags": [{{"Key": "Environment", "Value": "dev"}}]}}}}}}}}"#,
        metadata.join(", ")
    );
    let input = copies_of(&template, 2_000);
    let input_bytes = template.len() * 2_000;
    let (findings, peak) = host.evaluate_policy_measured(&policy, &input);
    findings.expect("evaluates");
    // The environment's text, one parsed template, and the sandbox's own.
    assert!(
        peak < 2 * input_bytes + (4 << 20),
        "the policy's sandbox peaked at {} KiB for {} KiB of templates",
        peak >> 10,
        input_bytes >> 10
    );
}

#[test]
fn a_policy_over_a_large_environment_gets_memory_for_its_input() {
    // 2,000 stacks of about 12 KB each (24 MB of templates): the input
    // alone is past the 16 MiB a module may use here.
    let host = host();
    let policy = built_in_policy(&host);
    let padding = "x".repeat(12_000);
    let template = format!(
        r#"{{"Description": "{padding}", "Resources": {{"Topic": {{"Type": "AWS::SNS::Topic", "Properties": {{"KmsMasterKeyId": "alias/aws/sns", "Tags": [{{"Key": "Environment", "Value": "dev"}}]}}}}}}}}"#
    );
    let input = copies_of(&template, 2_000);
    host.evaluate_policy(&policy, &input)
        .expect("evaluates within the memory its input earns");
}

#[test]
fn first_party_modules_and_policies_load_precompiled_without_compiling() {
    let cache = tempfile::tempdir().expect("temp dir");
    let host = Host::new(Limits::default(), Some(cache.path().to_path_buf())).expect("host");
    let registry = strata::modules::Registry::embedded();
    for module in registry.iter() {
        host.load(&module.name, &module.bytes, &module.sha256)
            .expect("first-party module loads");
    }
    for policy in registry.policies() {
        host.load_policy(&policy.name, &policy.bytes, &policy.sha256)
            .expect("built-in policy loads");
    }
    assert_eq!(host.compiled_count(), 0);
    // The artifacts are kept in the disk cache as they are, so the next run
    // maps them rather than copying them out of the binary.
    let cached = std::fs::read_dir(cache.path().join("components"))
        .expect("the embedded artifacts are cached")
        .count();
    assert_eq!(
        cached,
        registry.iter().count() + registry.policies().count()
    );
    let next = Host::new(Limits::default(), Some(cache.path().to_path_buf())).expect("host");
    for module in registry.iter() {
        next.load(&module.name, &module.bytes, &module.sha256)
            .expect("first-party module loads from the cache");
    }
    assert_eq!(next.compiled_count(), 0);

    // A module that is not built in compiles, once per host.
    load(&host, "misbehaving");
    load(&host, "misbehaving");
    assert_eq!(host.compiled_count(), 1);
}

#[test]
fn the_build_time_engine_is_the_runtime_engine_whatever_the_sandbox_limits() {
    let built = strata::host::precompiled::BUILD_COMPATIBILITY_HASH
        .expect("runner/build.rs precompiled the embedded modules (unless STRATA_PRECOMPILE=0)");
    for memory_bytes in [16 << 20, 64 << 20, 2 << 30] {
        let limits = Limits {
            memory_bytes,
            ..Limits::default()
        };
        let host = Host::new(limits, None).expect("host");
        assert_eq!(
            host.compatibility_hash(),
            built,
            "{} MiB",
            memory_bytes >> 20
        );
    }
}

use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::cloud::scripted::ScriptedCloud;
use crate::cloud::{CreateStack, PropertyDifference, TemplateSource};

fn scope() -> Scope {
    Scope {
        name: "dev".into(),
        region: "us-east-1".into(),
        prefix: "shop-dev-".into(),
    }
}

fn queue(visibility: u32, owner: &str) -> Value {
    json!({
        "Parameters": {"ImageTag": {"Type": "String", "Default": "1.0"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": visibility,
            "Tags": [{"Key": "Owner", "Value": owner}]
        }}}
    })
}

fn stack(name: &str, stack: &str, commit: Option<&str>, parameters: &[(&str, &str)]) -> Stack {
    let mut tags = vec![
        (ENVIRONMENT_TAG.to_owned(), "dev".to_owned()),
        (STACK_TAG.to_owned(), stack.to_owned()),
    ];
    if let Some(commit) = commit {
        tags.push((COMMIT_TAG.to_owned(), commit.to_owned()));
    }
    Stack {
        name: name.into(),
        id: format!("arn:{name}"),
        status: "CREATE_COMPLETE".into(),
        status_reason: None,
        outputs: Vec::new(),
        tags,
        termination_protection: false,
        parameters: parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn template_drift_names_the_resource_and_the_property_path() {
    let changes = template_drift(&queue(30, "team-a"), &queue(60, "someone"));
    let seen: Vec<(Option<&str>, &str, Difference)> = changes
        .iter()
        .map(|c| (c.resource.as_deref(), c.path.as_str(), c.difference))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some("Queue"), "Properties.Tags.Owner", Difference::Changed),
            (
                Some("Queue"),
                "Properties.VisibilityTimeout",
                Difference::Changed
            ),
        ]
    );
    assert_eq!(changes[1].expected, Some(json!(30)));
    assert_eq!(changes[1].actual, Some(json!(60)));
    assert!(template_drift(&queue(30, "a"), &queue(30, "a")).is_empty());
}

#[test]
fn template_drift_tells_added_and_removed_values_and_whole_resources() {
    let mut actual = queue(30, "a");
    actual["Resources"]["Topic"] = json!({"Type": "AWS::SNS::Topic"});
    actual["Resources"]["Queue"]["Properties"]
        .as_object_mut()
        .expect("properties")
        .remove("VisibilityTimeout");
    let changes = template_drift(&queue(30, "a"), &actual);
    let seen: Vec<(Option<&str>, &str, Difference)> = changes
        .iter()
        .map(|c| (c.resource.as_deref(), c.path.as_str(), c.difference))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                Some("Queue"),
                "Properties.VisibilityTimeout",
                Difference::Removed
            ),
            (Some("Topic"), "", Difference::Added),
        ]
    );
}

#[test]
fn parameters_are_compared_with_defaults_and_overrides_but_never_no_echo() {
    let template = json!({"Parameters": {
        "ImageTag": {"Type": "String", "Default": "1.0"},
        "Password": {"Type": "String", "NoEcho": true, "Default": "x"},
        "Size": {"Type": "Number", "Default": 3},
        "Free": {"Type": "String"}
    }});
    let deployed = |tag: &str, size: &str| {
        vec![
            ("ImageTag".to_owned(), tag.to_owned()),
            ("Password".to_owned(), "****".to_owned()),
            ("Size".to_owned(), size.to_owned()),
            ("Free".to_owned(), "anything".to_owned()),
        ]
    };
    assert!(parameter_drift(&template, &deployed("1.0", "3"), None).is_empty());
    let changed = parameter_drift(&template, &deployed("2.0", "4"), None);
    let paths: Vec<&str> = changed.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["ImageTag", "Size"]);
    assert_eq!(changed[0].expected, Some(json!("1.0")));
    assert_eq!(changed[0].actual, Some(json!("2.0")));
    // A code-only deploy set 2.0: that is what Strata expects now.
    let overrides = BTreeMap::from([("ImageTag".to_owned(), "2.0".to_owned())]);
    assert!(parameter_drift(&template, &deployed("2.0", "3"), Some(&overrides)).is_empty());
}

#[test]
fn resource_drift_keeps_cloudformation_pointers_and_names_deleted_resources() {
    let drifts = vec![
        ResourceDrift {
            logical_id: "Queue".into(),
            physical_id: "q-1".into(),
            resource_type: "AWS::SQS::Queue".into(),
            status: ResourceDriftStatus::Modified,
            differences: vec![
                PropertyDifference {
                    path: "/Properties/VisibilityTimeout".into(),
                    expected: "30".into(),
                    actual: "60".into(),
                    kind: DifferenceKind::NotEqual,
                },
                PropertyDifference {
                    path: "/Properties/Tags/1".into(),
                    expected: "null".into(),
                    actual: "{\"Key\":\"x\",\"Value\":\"y\"}".into(),
                    kind: DifferenceKind::Add,
                },
            ],
        },
        ResourceDrift {
            logical_id: "Topic".into(),
            physical_id: "t-1".into(),
            resource_type: "AWS::SNS::Topic".into(),
            status: ResourceDriftStatus::Deleted,
            differences: Vec::new(),
        },
    ];
    let changes = resource_changes(&drifts);
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0].path, "/Properties/VisibilityTimeout");
    assert_eq!(changes[0].expected, Some(json!(30)));
    assert_eq!(changes[1].difference, Difference::Added);
    assert_eq!(changes[1].actual, Some(json!({"Key": "x", "Value": "y"})));
    assert_eq!(changes[2].resource.as_deref(), Some("Topic"));
    assert_eq!(changes[2].difference, Difference::Deleted);
}

#[test]
fn compare_reports_missing_and_extra_stacks_and_ignores_other_environments() {
    let expected = BTreeMap::from([
        ("queue".to_owned(), queue(30, "a")),
        ("network".to_owned(), queue(1, "n")),
    ]);
    let deployed = vec![
        Deployed {
            stack: stack("shop-dev-queue", "queue", None, &[("ImageTag", "1.0")]),
            template: Ok(Some(queue(30, "a"))),
        },
        Deployed {
            stack: stack("shop-dev-old", "old", None, &[]),
            template: Ok(None),
        },
    ];
    let mut errors = Vec::new();
    let drifted = compare(
        &scope(),
        &expected,
        &deployed,
        &Overrides::new(),
        &mut errors,
    );
    let seen: Vec<(&str, &str, DriftKind)> = drifted
        .iter()
        .map(|d| (d.stack.as_str(), d.stack_name.as_str(), d.kind))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("network", "shop-dev-network", DriftKind::Missing),
            ("old", "shop-dev-old", DriftKind::Extra),
        ]
    );
    assert!(errors.is_empty());

    let mut other = stack("shop-dev-queue", "queue", None, &[]);
    other.tags[0].1 = "prod".into();
    assert!(!scope().owns(&other));
    assert!(!scope().owns(&stack("shop-prod-queue", "queue", None, &[])));
    assert!(scope().owns(&stack("shop-dev-queue", "queue", None, &[])));
}

#[test]
fn a_template_that_cannot_be_read_is_an_error_not_drift() {
    let expected = BTreeMap::from([("queue".to_owned(), queue(30, "a"))]);
    let deployed = vec![Deployed {
        stack: stack("shop-dev-queue", "queue", None, &[]),
        template: Err("the deployed template is not JSON".into()),
    }];
    let mut errors = Vec::new();
    assert!(
        compare(
            &scope(),
            &expected,
            &deployed,
            &Overrides::new(),
            &mut errors
        )
        .is_empty()
    );
    assert_eq!(
        errors,
        vec!["cannot read the template of `shop-dev-queue`: the deployed template is not JSON"]
    );
}

#[test]
fn changes_are_capped_with_a_count() {
    let changes = (0..(MAX_CHANGES + 7))
        .map(|i| Change {
            resource: None,
            resource_type: None,
            path: format!("p{i}"),
            expected: None,
            actual: None,
            difference: Difference::Added,
        })
        .collect();
    let drifted = drifted_stack("s", "x-s", DriftKind::Template, changes);
    assert_eq!(drifted.changes.len(), MAX_CHANGES);
    assert_eq!(drifted.omitted, 7);
}

#[test]
fn the_environment_commit_is_the_given_one_else_the_newest_known_tag() {
    // a → b → c; `zzz` is unknown to the repository.
    let order = ["a", "b", "c"];
    let is_ancestor = |x: &str, y: &str| {
        let i = order.iter().position(|c| *c == x)?;
        let j = order.iter().position(|c| *c == y)?;
        Some(i <= j)
    };
    let stacks = vec![
        stack("shop-dev-1", "1", Some("a"), &[]),
        stack("shop-dev-2", "2", Some("c"), &[]),
        stack("shop-dev-3", "3", Some("b"), &[]),
        stack("shop-dev-4", "4", Some("zzz"), &[]),
        stack("shop-dev-5", "5", None, &[]),
    ];
    assert_eq!(
        environment_commit(None, &stacks, is_ancestor).as_deref(),
        Some("c")
    );
    assert_eq!(
        environment_commit(Some("b"), &stacks, is_ancestor).as_deref(),
        Some("b")
    );
    assert_eq!(environment_commit(None, &stacks[3..], is_ancestor), None);
}

fn sample() -> EnvironmentDrift {
    let mut environment = EnvironmentDrift::new("dev", "us-east-1");
    environment.checked_at = "2026-12-06T04:00:00Z".into();
    environment.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    environment.stacks_checked = 4;
    environment.drifted = vec![
        drifted_stack(
            "network",
            "shop-dev-network",
            DriftKind::Missing,
            Vec::new(),
        ),
        drifted_stack("old", "shop-dev-old", DriftKind::Extra, Vec::new()),
        drifted_stack(
            "queue",
            "shop-dev-queue",
            DriftKind::Template,
            template_drift(&queue(30, "team-a"), &queue(60, "someone | else")),
        ),
        drifted_stack(
            "queue",
            "shop-dev-queue",
            DriftKind::Parameters,
            parameter_drift(
                &queue(30, "a"),
                &[("ImageTag".to_owned(), "2.0".to_owned())],
                None,
            ),
        ),
        drifted_stack(
            "queue",
            "shop-dev-queue",
            DriftKind::Resources,
            resource_changes(&[ResourceDrift {
                logical_id: "Queue".into(),
                physical_id: "q".into(),
                resource_type: "AWS::SQS::Queue".into(),
                status: ResourceDriftStatus::Modified,
                differences: vec![PropertyDifference {
                    path: "/Properties/DelaySeconds".into(),
                    expected: "0".into(),
                    actual: "5".into(),
                    kind: DifferenceKind::NotEqual,
                }],
            }]),
        ),
    ];
    environment.resource_drift = ResourceDriftCheck::Checked;
    environment
}

fn in_sync() -> EnvironmentDrift {
    let mut environment = EnvironmentDrift::new("prod", "eu-west-1");
    environment.checked_at = "2026-12-06T04:00:00Z".into();
    environment.commit = Some("fedcba9876543210fedcba9876543210fedcba98".into());
    environment.stacks_checked = 2;
    environment.resource_drift =
        ResourceDriftCheck::Unavailable("the endpoint does not implement DetectStackDrift".into());
    environment
}

fn unfinished() -> EnvironmentDrift {
    let mut environment = EnvironmentDrift::new("staging", "us-east-1");
    environment.checked_at = "2026-12-06T04:00:00Z".into();
    environment
        .errors
        .push("cannot list the stacks of `staging`: DescribeStacks failed: (HTTP 500)".into());
    environment
}

#[test]
fn the_terminal_report_lists_each_drifted_stack_and_its_changes() {
    let report = DriftReport {
        environments: vec![sample(), in_sync(), unfinished()],
    };
    insta::assert_snapshot!(render::terminal(&report, render::Colour::Off));
}

#[test]
fn the_markdown_report_is_an_issue_body() {
    insta::assert_snapshot!(render::markdown(&sample(), render::ISSUE_LIMIT));
}

#[test]
fn the_markdown_report_of_an_unfinished_check_does_not_say_in_sync() {
    insta::assert_snapshot!(render::markdown(&unfinished(), render::ISSUE_LIMIT));
}

#[test]
fn the_markdown_report_stays_under_the_limit_and_counts_what_it_left_out() {
    let mut environment = sample();
    let template = drifted_stack(
        "x",
        "shop-dev-x",
        DriftKind::Template,
        template_drift(&queue(30, &"a".repeat(90)), &queue(60, &"b".repeat(90))),
    );
    environment.drifted = (0..400)
        .map(|i| DriftedStack {
            stack: format!("stack{i:03}"),
            ..template.clone()
        })
        .collect();
    let text = render::markdown(&environment, render::ISSUE_LIMIT);
    assert!(text.chars().count() <= render::ISSUE_LIMIT);
    assert!(text.contains("more drifted stacks not shown"), "{text}");
    assert!(text.contains("Fingerprint"));
}

#[test]
fn the_json_report_has_a_drifted_list_for_every_environment() {
    let report = DriftReport {
        environments: vec![sample(), in_sync()],
    };
    let text = render::json(&report);
    insta::assert_snapshot!(text);
    let document: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(document["environments"][1]["drifted"], json!([]));
}

#[test]
fn the_fingerprint_ignores_time_and_commit_but_not_drift() {
    let a = sample();
    let mut b = sample();
    b.checked_at = "2027-01-01T00:00:00Z".into();
    b.commit = None;
    assert_eq!(a.fingerprint(), b.fingerprint());
    b.drifted.pop();
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 16);
}

/// Git's side as plain templates: one commit, `c1`.
struct Templates {
    stacks: Mutex<BTreeMap<String, Value>>,
}

impl Source for Templates {
    fn scope(&self, _environment: &str) -> Result<Scope, String> {
        Ok(scope())
    }
    fn render(&self, _environment: &str, commit: Option<&str>) -> Result<Desired, String> {
        Ok(Desired {
            commit: commit.map(str::to_owned),
            stacks: self.stacks.lock().expect("lock").clone(),
        })
    }
    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Option<bool> {
        (ancestor == "c1" && descendant == "c1").then_some(true)
    }
}

async fn deploy(cloud: &ScriptedCloud, stack: &str, template: &Value) {
    deploy_at(cloud, stack, template, "c1").await;
}

async fn deploy_at(cloud: &ScriptedCloud, stack: &str, template: &Value, commit: &str) {
    let name = format!("shop-dev-{stack}");
    cloud
        .create_stack(&CreateStack {
            name: name.clone(),
            template: TemplateSource::Body(template.to_string()),
            parameters: Vec::new(),
            tags: crate::deploy::stack_tags(&[], "dev", stack, Some(commit)),
            capabilities: Vec::new(),
            termination_protection: false,
            client_token: format!("create-{stack}"),
        })
        .await
        .expect("create");
    while cloud
        .describe_stack(&name)
        .await
        .expect("describe")
        .is_some_and(|s| s.status.is_in_progress())
    {}
}

fn fast() -> Options {
    Options {
        poll_interval: Duration::from_millis(1),
        ..Options::default()
    }
}

#[tokio::test]
async fn the_scripted_cloud_shows_template_parameter_and_resource_drift() {
    let cloud = ScriptedCloud::new();
    let source = Templates {
        stacks: Mutex::new(BTreeMap::from([
            ("queue".to_owned(), queue(30, "a")),
            ("other".to_owned(), queue(10, "o")),
        ])),
    };
    deploy(&cloud, "queue", &queue(30, "a")).await;
    deploy(&cloud, "other", &queue(10, "o")).await;
    let overrides = Overrides::new();
    let request = Request {
        environment: "dev",
        commit: None,
        overrides: &overrides,
    };

    let report = check_environment(&cloud, &source, &request, &fast()).await;
    assert_eq!(report.drifted, Vec::new());
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.commit.as_deref(), Some("c1"));
    assert_eq!(report.stacks_checked, 2);
    assert_eq!(report.resource_drift, ResourceDriftCheck::Checked);
    let in_sync = report.fingerprint();

    cloud
        .edit_out_of_band(
            "shop-dev-queue",
            Some(&queue(45, "a").to_string()),
            &[("ImageTag", "9.9")],
        )
        .expect("edit");
    cloud.set_resource_drift(
        "shop-dev-other",
        vec![ResourceDrift {
            logical_id: "Queue".into(),
            physical_id: "Queue-1".into(),
            resource_type: "AWS::SQS::Queue".into(),
            status: ResourceDriftStatus::Deleted,
            differences: Vec::new(),
        }],
    );
    let report = check_environment(&cloud, &source, &request, &fast()).await;
    let seen: Vec<(&str, DriftKind)> = report
        .drifted
        .iter()
        .map(|d| (d.stack.as_str(), d.kind))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("other", DriftKind::Resources),
            ("queue", DriftKind::Template),
            ("queue", DriftKind::Parameters),
        ]
    );
    assert_eq!(
        report.drifted[1].changes[0].path,
        "Properties.VisibilityTimeout"
    );
    assert_ne!(report.fingerprint(), in_sync);
    // Detections were polled while in progress.
    let polls = cloud
        .calls()
        .iter()
        .filter(|c| c.operation == "DescribeStackDriftDetectionStatus")
        .count();
    assert!(
        polls >= 2 * (crate::cloud::scripted::DETECTION_POLLS + 1),
        "{polls}"
    );

    // Cleared: in sync again, as far as resources go.
    cloud.set_resource_drift("shop-dev-other", Vec::new());
    let report = check_environment(&cloud, &source, &request, &fast()).await;
    assert!(
        report
            .drifted
            .iter()
            .all(|d| d.kind != DriftKind::Resources)
    );
}

#[tokio::test]
async fn without_drift_detection_the_report_says_so_once_and_still_compares_templates() {
    let cloud = ScriptedCloud::new().without_drift_detection();
    let source = Templates {
        stacks: Mutex::new(BTreeMap::from([
            ("queue".to_owned(), queue(30, "a")),
            ("other".to_owned(), queue(10, "o")),
        ])),
    };
    deploy(&cloud, "queue", &queue(30, "b")).await;
    deploy(&cloud, "other", &queue(10, "o")).await;
    let overrides = Overrides::new();
    let report = check_environment(
        &cloud,
        &source,
        &Request {
            environment: "dev",
            commit: None,
            overrides: &overrides,
        },
        &fast(),
    )
    .await;
    assert!(
        matches!(report.resource_drift, ResourceDriftCheck::Unavailable(ref why) if why.contains("DetectStackDrift"))
    );
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.drifted.len(), 1);
    assert_eq!(report.drifted[0].kind, DriftKind::Template);
}

#[tokio::test]
async fn a_stack_deleted_outside_strata_is_missing_and_an_unknown_one_is_extra() {
    let cloud = ScriptedCloud::new();
    let source = Templates {
        stacks: Mutex::new(BTreeMap::from([("queue".to_owned(), queue(30, "a"))])),
    };
    deploy(&cloud, "stray", &queue(30, "a")).await;
    let overrides = Overrides::new();
    let report = check_environment(
        &cloud,
        &source,
        &Request {
            environment: "dev",
            commit: None,
            overrides: &overrides,
        },
        &fast(),
    )
    .await;
    let seen: Vec<(&str, DriftKind)> = report
        .drifted
        .iter()
        .map(|d| (d.stack.as_str(), d.kind))
        .collect();
    assert_eq!(
        seen,
        vec![("queue", DriftKind::Missing), ("stray", DriftKind::Extra)]
    );
    assert_eq!(report.stacks_checked, 2);
}

/// Git's side at two commits, `c1` then `c2`.
struct History {
    at: BTreeMap<&'static str, BTreeMap<String, Value>>,
}

impl Source for History {
    fn scope(&self, _environment: &str) -> Result<Scope, String> {
        Ok(scope())
    }
    fn render(&self, _environment: &str, commit: Option<&str>) -> Result<Desired, String> {
        let commit = commit.unwrap_or("c2");
        let stacks = self.at.get(commit).ok_or(format!("no commit `{commit}`"))?;
        Ok(Desired {
            commit: Some(commit.to_owned()),
            stacks: stacks.clone(),
        })
    }
    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Option<bool> {
        let order = ["c1", "c2"];
        let a = order.iter().position(|c| *c == ancestor)?;
        let d = order.iter().position(|c| *c == descendant)?;
        Some(a <= d)
    }
}

#[tokio::test]
async fn each_stack_is_compared_with_git_at_its_own_commit() {
    // c2 changed both stacks, but only `other` was applied at c2 (the apply
    // stopped): `queue` still runs c1's template, which is no drift.
    let source = History {
        at: BTreeMap::from([
            (
                "c1",
                BTreeMap::from([
                    ("queue".to_owned(), queue(30, "a")),
                    ("other".to_owned(), queue(10, "o")),
                ]),
            ),
            (
                "c2",
                BTreeMap::from([
                    ("queue".to_owned(), queue(90, "a")),
                    ("other".to_owned(), queue(20, "o")),
                ]),
            ),
        ]),
    };
    let cloud = ScriptedCloud::new();
    deploy_at(&cloud, "queue", &queue(30, "a"), "c1").await;
    deploy_at(&cloud, "other", &queue(20, "o"), "c2").await;
    let overrides = Overrides::new();
    let request = Request {
        environment: "dev",
        commit: None,
        overrides: &overrides,
    };
    let report = check_environment(&cloud, &source, &request, &fast()).await;
    assert_eq!(report.commit.as_deref(), Some("c2"));
    assert_eq!(report.drifted, Vec::new());
    assert_eq!(report.errors, Vec::<String>::new());

    // Edited by hand, `queue` drifts from c1's template, not c2's.
    cloud
        .edit_out_of_band("shop-dev-queue", Some(&queue(31, "a").to_string()), &[])
        .expect("edit");
    let report = check_environment(&cloud, &source, &request, &fast()).await;
    assert_eq!(report.drifted.len(), 1);
    assert_eq!(report.drifted[0].changes[0].expected, Some(json!(30)));
    assert_eq!(report.drifted[0].changes[0].actual, Some(json!(31)));
}

/// The server spawns checks: the future must be `Send`.
#[expect(dead_code, reason = "a compile-time check")]
fn checks_can_be_spawned<'a>(
    cloud: &'a dyn Cloud,
    source: &'a dyn Source,
    request: &'a Request<'a>,
    options: &'a Options,
) -> impl Future<Output = EnvironmentDrift> + Send + 'a {
    check_environment(cloud, source, request, options)
}

const NETWORKING: &str = r#"project = "shop"
environment = "development"
region = "us-east-1"

[tags]
CostCenter = "engineering"
Owner = "platform"

[stacks.networking]
type = "networking"
cidr = "10.2.0.0/16"
availability_zones = 2
nat_gateways = 1
flow_log_retention_days = 7
"#;

fn commit_all(repo: &git2::Repository, message: &str) -> String {
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("find tree");
    let signature = git2::Signature::now("Strata Test", "test@strata.invalid").expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
    .expect("commit")
    .to_string()
}

#[test]
fn git_renders_an_environment_at_a_commit_from_a_clone_and_from_a_bare_mirror() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    let repo = git2::Repository::init(&work).expect("init");
    std::fs::create_dir_all(work.join("environments")).expect("mkdir");
    std::fs::write(work.join("environments/dev.toml"), NETWORKING).expect("write");
    let first = commit_all(&repo, "dev");
    std::fs::write(
        work.join("environments/dev.toml"),
        NETWORKING.replace("= 7", "= 14"),
    )
    .expect("write");
    let second = commit_all(&repo, "dev: two weeks of flow logs");
    let bare = dir.path().join("mirror.git");
    git2::build::RepoBuilder::new()
        .bare(true)
        .clone(work.to_str().expect("utf-8 path"), &bare)
        .expect("bare clone");

    let host = crate::host::Host::new(crate::host::Limits::default(), None).expect("host");
    let checked_out = source::GitSource::new(&host, &work);
    let scope = checked_out.scope("dev").expect("scope");
    assert_eq!(scope.prefix, "shop-development-");
    assert_eq!(scope.region, "us-east-1");
    let on_disk = checked_out.render("dev", None).expect("render");
    assert_eq!(on_disk.commit, None);
    assert!(on_disk.stacks.contains_key("networking"));

    let mirror = source::GitSource::at(&host, &bare, "HEAD");
    assert_eq!(mirror.scope("dev").expect("scope"), scope);
    let head = mirror.render("dev", None).expect("render");
    assert_eq!(head.commit.as_deref(), Some(second.as_str()));
    assert_eq!(head.stacks, on_disk.stacks);
    let older = mirror.render("dev", Some(&first)).expect("render");
    assert_eq!(older.commit.as_deref(), Some(first.as_str()));
    let changes = template_drift(&older.stacks["networking"], &head.stacks["networking"]);
    assert!(
        changes
            .iter()
            .any(|c| c.expected == Some(json!(7)) && c.actual == Some(json!(14))),
        "{changes:?}"
    );

    assert_eq!(mirror.is_ancestor(&first, &second), Some(true));
    assert_eq!(mirror.is_ancestor(&second, &first), Some(false));
    assert_eq!(
        mirror.is_ancestor("0123456789abcdef0123456789abcdef01234567", &first),
        None
    );
    assert!(mirror.render("dev", Some("no-such-revision")).is_err());
    assert!(mirror.scope("nope").is_err());
}

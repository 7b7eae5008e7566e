//! Decisions, table-driven: each case is an event with the facts recorded so
//! far; the snapshot is the decision in words (stage → verdict and waits).
//! Times are in March 2025, across Europe/Berlin's change to summer time
//! (Sunday 30 March, 02:00 → 03:00).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::*;

/// The repository's environments: `dev` and `staging`, and `prod` protected.
fn environments() -> BTreeMap<String, EnvironmentInfo> {
    let stacks: Vec<String> = ["networking", "database", "compute"]
        .map(String::from)
        .to_vec();
    [("dev", false), ("staging", false), ("prod", true)]
        .into_iter()
        .map(|(name, protected)| {
            (
                name.to_owned(),
                EnvironmentInfo {
                    protected,
                    stacks: stacks.clone(),
                },
            )
        })
        .collect()
}

fn load_files(files: &[(&str, &str)]) -> (Workflows, Vec<Diagnostic>) {
    let environments = environments();
    let known = Known {
        default_branch: "main",
        environments: &environments,
    };
    let sources: Vec<Arc<SourceFile>> = files
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect();
    match Workflows::load(&sources, &known) {
        Ok(loaded) => loaded,
        Err(diagnostics) => panic!(
            "workflows do not load:\n{}",
            crate::config::diagnostic::Report::new(crate::config::diagnostic::Style::Plain)
                .render_all(&diagnostics)
        ),
    }
}

fn load(path: &str, text: &str) -> Workflows {
    let (workflows, warnings) = load_files(&[(path, text)]);
    assert!(warnings.is_empty(), "{warnings:#?}");
    workflows
}

/// The repository's own `workflows/release.toml`: dev → staging (10m soak)
/// → prod (command, 1 approval from `acme/platform`, mergeable, Mon–Thu
/// 09:00–16:00 Europe/Berlin), a Monday drift check.
fn release() -> Workflows {
    load(
        "workflows/release.toml",
        include_str!("../../../workflows/release.toml"),
    )
}

/// The repository's own `workflows/deploy-code.toml`.
fn deploy_code() -> Workflows {
    load(
        "workflows/deploy-code.toml",
        include_str!("../../../workflows/deploy-code.toml"),
    )
}

fn builtin() -> Workflows {
    let environments = environments();
    Workflows::builtin(&Known {
        default_branch: "main",
        environments: &environments,
    })
}

/// `2025-03-27T14:00:00Z` as a timestamp.
fn at(text: &str) -> Timestamp {
    text.parse::<jiff::Timestamp>()
        .expect("test instant")
        .as_second()
}

/// Thursday 27 March 2025, 11:00 in Berlin: prod's window is open.
const THURSDAY_MORNING: &str = "2025-03-27T10:00:00Z";

fn envs(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn facts(now: &str, run: Option<RunFacts>) -> Facts {
    Facts {
        now: at(now),
        default_branch: "main".into(),
        run,
    }
}

/// The run of `workflow` at commit `c0ffee…` touching `touched`.
fn run(workflow: &str, touched: &[&str]) -> RunFacts {
    RunFacts {
        workflow: workflow.into(),
        commit: "c0ffee0123456789".into(),
        touched: envs(touched),
        author: Some("dana".into()),
        ..RunFacts::default()
    }
}

fn done(at_time: &str) -> StageRecord {
    StageRecord {
        status: StageStatus::Succeeded,
        finished_at: Some(at(at_time)),
    }
}

fn with(mut run: RunFacts, stage: &str, record: StageRecord) -> RunFacts {
    run.stages.insert(stage.into(), record);
    run
}

fn approval(user: &str, teams: &[&str]) -> Approval {
    Approval {
        user: user.into(),
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn push(commits: &[(&str, &[&str])]) -> Event {
    Event::Push {
        branch: "main".into(),
        commits: commits
            .iter()
            .map(|(sha, touched)| Commit {
                sha: (*sha).into(),
                touched: envs(touched),
            })
            .collect(),
    }
}

fn command(environment: Option<&str>) -> Event {
    Event::Command {
        environment: environment.map(str::to_owned),
        user: "erin".into(),
    }
}

fn dispatch(workflow: &str, inputs: &[(&str, &str)]) -> Event {
    Event::Dispatch {
        workflow: workflow.into(),
        inputs: inputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        user: "erin".into(),
    }
}

/// Every case's decision under a heading, with the next wake-up of each run.
fn table(cases: &[(&str, &Workflows, Event, Facts)]) -> String {
    let mut out = String::new();
    for (name, workflows, event, facts) in cases {
        let decision = decide(workflows, event, facts);
        let _ = writeln!(out, "## {name}");
        let _ = write!(out, "{decision}");
        for run in &decision.runs {
            if let Some(wake) = run.next_wake() {
                let _ = writeln!(
                    out,
                    "  (tick at {})",
                    jiff::Timestamp::from_second(wake).expect("instant")
                );
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn a_change_to_main_promotes_dev_then_staging_then_prod() {
    let release = release();
    let all = ["dev", "staging", "prod"];
    let merged = run("release", &all);
    let dev_done = with(merged.clone(), "dev", done("2025-03-27T09:52:00Z"));
    let staging_done = with(dev_done.clone(), "staging", done("2025-03-27T09:58:00Z"));
    let mut released = staging_done.clone();
    released.released.insert("prod".into());
    released
        .approvals
        .push(approval("carol", &["acme/platform"]));
    insta::assert_snapshot!(table(&[
        (
            "a pull request is planned, with a preview of its merge",
            &release,
            Event::PullRequest {
                base_branch: "main".into(),
                touched: envs(&["prod", "dev"]),
            },
            facts(THURSDAY_MORNING, None),
        ),
        (
            "a pull request into another branch is not planned",
            &release,
            Event::PullRequest {
                base_branch: "release-1.x".into(),
                touched: envs(&["dev"]),
            },
            facts(THURSDAY_MORNING, None),
        ),
        (
            "the merge runs dev; staging waits for it, prod for everything",
            &release,
            push(&[("c0ffee0123456789", &all)]),
            facts(THURSDAY_MORNING, None),
        ),
        (
            "dev succeeded 8 minutes ago: staging soaks",
            &release,
            Event::Tick,
            facts(THURSDAY_MORNING, Some(dev_done.clone())),
        ),
        (
            "the soak is over: staging runs",
            &release,
            Event::Tick,
            facts("2025-03-27T10:02:00Z", Some(dev_done)),
        ),
        (
            "staging succeeded: prod waits for a command and an approval",
            &release,
            Event::Tick,
            facts(THURSDAY_MORNING, Some(staging_done)),
        ),
        (
            "released and approved by a platform member: prod runs",
            &release,
            Event::Tick,
            facts(THURSDAY_MORNING, Some(released)),
        ),
        (
            "a change to dev alone skips the other stages",
            &release,
            push(&[("c0ffee0123456789", &["dev"])]),
            facts(THURSDAY_MORNING, None),
        ),
    ]));
}

#[test]
fn approvals_count_team_members_and_named_users_but_never_the_author() {
    let release = release();
    let ready = with(
        with(
            run("release", &["dev", "staging", "prod"]),
            "dev",
            done("2025-03-27T09:00:00Z"),
        ),
        "staging",
        done("2025-03-27T09:30:00Z"),
    );
    let approved_by = |approvals: Vec<Approval>| {
        let mut run = ready.clone();
        run.approvals = approvals;
        facts(THURSDAY_MORNING, Some(run))
    };
    let mut author_run = ready.clone();
    author_run.author = Some("carol".into());
    author_run.approvals = vec![approval("carol", &["acme/platform"])];
    let two = load(
        "workflows/two.toml",
        r#"
[on.command]
[[stages]]
name = "prod"
environments = ["prod"]
when = "command"
[stages.gates]
approvals = { count = 2, from = ["acme/platform", "alice"] }
"#,
    );
    let mut alice = run("two", &["prod"]);
    alice.approvals = vec![approval("alice", &[]), approval("ALICE", &[])];
    insta::assert_snapshot!(table(&[
        (
            "an approval from someone outside the team does not count",
            &release,
            command(Some("prod")),
            approved_by(vec![approval("bob", &[])]),
        ),
        (
            "a team member's approval counts",
            &release,
            command(Some("prod")),
            approved_by(vec![
                approval("bob", &[]),
                approval("carol", &["acme/platform"])
            ]),
        ),
        (
            "the author's own approval never counts",
            &release,
            command(Some("prod")),
            facts(THURSDAY_MORNING, Some(author_run)),
        ),
        (
            "a named user counts once, however often (and in whatever case) she approves",
            &two,
            command(Some("prod")),
            facts(THURSDAY_MORNING, Some(alice)),
        ),
    ]));
}

#[test]
fn a_closed_window_holds_prod_until_it_opens_across_the_change_to_summer_time() {
    let release = release();
    let mut ready = with(
        with(
            run("release", &["prod"]),
            "dev",
            done("2025-03-27T09:00:00Z"),
        ),
        "staging",
        done("2025-03-27T09:30:00Z"),
    );
    ready.released.insert("prod".into());
    ready.approvals.push(approval("carol", &["acme/platform"]));
    insta::assert_snapshot!(table(&[
        (
            "Thursday 16:30 in Berlin (winter time): opens Monday 09:00 (summer time, 07:00 UTC)",
            &release,
            Event::Tick,
            facts("2025-03-27T15:30:00Z", Some(ready.clone())),
        ),
        (
            "Monday 08:59 in Berlin: still closed",
            &release,
            Event::Tick,
            facts("2025-03-31T06:59:00Z", Some(ready.clone())),
        ),
        (
            "Monday 09:00 in Berlin: runs",
            &release,
            Event::Tick,
            facts("2025-03-31T07:00:00Z", Some(ready)),
        ),
    ]));
}

#[test]
fn a_failed_stage_blocks_every_stage_after_it() {
    let release = release();
    let failed = with(
        run("release", &["dev", "staging", "prod"]),
        "dev",
        StageRecord {
            status: StageStatus::Failed,
            finished_at: Some(at("2025-03-27T09:55:00Z")),
        },
    );
    let running = with(
        run("release", &["dev", "staging", "prod"]),
        "dev",
        StageRecord {
            status: StageStatus::Running,
            finished_at: None,
        },
    );
    insta::assert_snapshot!(table(&[
        (
            "dev failed: staging and prod are blocked",
            &release,
            Event::Tick,
            facts(THURSDAY_MORNING, Some(failed)),
        ),
        (
            "dev is running: staging waits",
            &release,
            Event::Tick,
            facts(THURSDAY_MORNING, Some(running)),
        ),
    ]));
}

#[test]
fn several_commits_run_at_the_tip_or_each_in_order() {
    let text = |commits: &str| {
        format!(
            r#"
[on.push]
commits = "{commits}"
[[stages]]
name = "dev"
environments = ["dev"]
[[stages]]
name = "staging"
environments = ["staging"]
after = ["dev"]
"#
        )
    };
    let tip = load("workflows/tip.toml", &text("tip"));
    let each = load("workflows/each.toml", &text("each"));
    let commits = push(&[
        ("aaaaaaa1", &["dev"]),
        ("bbbbbbb2", &["staging"]),
        ("ccccccc3", &[]),
    ]);
    insta::assert_snapshot!(table(&[
        (
            "tip: one run at the newest commit, with what all of them touch",
            &tip,
            commits.clone(),
            facts(THURSDAY_MORNING, None),
        ),
        (
            "each: one run per commit that touches something, oldest first",
            &each,
            commits,
            facts(THURSDAY_MORNING, None),
        ),
        (
            "a push to another branch runs nothing",
            &tip,
            Event::Push {
                branch: "feature".into(),
                commits: vec![Commit {
                    sha: "ddddddd4".into(),
                    touched: envs(&["dev"]),
                }],
            },
            facts(THURSDAY_MORNING, None),
        ),
    ]));
}

#[test]
fn dispatch_resolves_and_checks_inputs() {
    let deploy_code = deploy_code();
    let release = release();
    let with_default = load(
        "workflows/hotfix.toml",
        r#"
[on.dispatch]
[inputs.image_tag]
default = "stable"
pattern = "^[a-z0-9.-]+$"
parameters = ["*ImageTag"]
stacks = ["compute"]
[[stages]]
name = "prod"
environments = ["prod"]
only = ["compute"]
"#,
    );
    let at_head = || {
        facts(
            THURSDAY_MORNING,
            Some(RunFacts {
                commit: "feedface00".into(),
                ..RunFacts::default()
            }),
        )
    };
    insta::assert_snapshot!(table(&[
        (
            "an image tag rolls through dev first",
            &deploy_code,
            dispatch("deploy-code", &[("image_tag", "1.42.0-4f2c9e1")]),
            at_head(),
        ),
        (
            "a required input is missing",
            &deploy_code,
            dispatch("deploy-code", &[]),
            at_head(),
        ),
        (
            "a value that does not match the pattern, and an unknown input",
            &deploy_code,
            dispatch(
                "deploy-code",
                &[("image_tag", "1.42 final"), ("imagetag", "1.42.0")],
            ),
            at_head(),
        ),
        (
            "the default applies when no value is given",
            &with_default,
            dispatch("hotfix", &[]),
            at_head(),
        ),
        (
            "an unknown workflow",
            &deploy_code,
            dispatch("deploy-cod", &[]),
            at_head(),
        ),
        (
            "a workflow that cannot be dispatched",
            &release,
            dispatch("release", &[]),
            at_head(),
        ),
    ]));
}

#[test]
fn the_built_in_default_applies_unprotected_environments_on_merge_and_protected_ones_on_command() {
    let builtin = builtin();
    let all = ["dev", "prod", "staging"];
    let mut open = run(BUILTIN_NAME, &["dev", "prod"]);
    open.origin = Origin::PullRequest;
    let mut approved = open.clone();
    approved.approvals.push(approval("bob", &[]));
    approved.mergeable = Some(true);
    let mut merged = with(
        with(run(BUILTIN_NAME, &all), "dev", done("2025-03-27T09:40:00Z")),
        "staging",
        done("2025-03-27T09:50:00Z"),
    );
    merged.approvals.push(approval("bob", &[]));
    insta::assert_snapshot!(table(&[
        (
            "a pull request into main is planned",
            &builtin,
            Event::PullRequest {
                base_branch: "main".into(),
                touched: envs(&["prod", "dev"]),
            },
            facts(THURSDAY_MORNING, None),
        ),
        (
            "a merge applies dev, then staging; prod waits for a command",
            &builtin,
            push(&[("c0ffee0123456789", &all)]),
            facts(THURSDAY_MORNING, None),
        ),
        (
            "`/strata apply dev` before merge needs an approval and a clean merge",
            &builtin,
            command(Some("dev")),
            facts(THURSDAY_MORNING, Some(open)),
        ),
        (
            "`/strata apply` before merge, approved and mergeable: both environments run",
            &builtin,
            command(None),
            facts(THURSDAY_MORNING, Some(approved)),
        ),
        (
            "`/strata apply prod` on the merged pull request, approved, after the merge applied dev and staging",
            &builtin,
            command(Some("prod")),
            facts(THURSDAY_MORNING, Some(merged)),
        ),
    ]));
}

#[test]
fn commands_release_stages_or_say_why_not() {
    let release = release();
    let deploy_code = deploy_code();
    let mut open = run("release", &["dev", "staging", "prod"]);
    open.origin = Origin::PullRequest;
    open.mergeable = Some(true);
    let mut prod_done = with(
        run("release", &["prod"]),
        "prod",
        done("2025-03-27T09:00:00Z"),
    );
    prod_done.released.insert("prod".into());
    insta::assert_snapshot!(table(&[
        (
            "`/strata apply` before merge releases every stage it touches; dev runs first",
            &release,
            command(None),
            facts(THURSDAY_MORNING, Some(open.clone())),
        ),
        (
            "`/strata apply prod` before merge: prod waits for the stages before it",
            &release,
            command(Some("prod")),
            facts(THURSDAY_MORNING, Some(open)),
        ),
        (
            "an environment the change does not touch",
            &release,
            command(Some("staging")),
            facts(THURSDAY_MORNING, Some(run("release", &["prod"]))),
        ),
        (
            "a stage that already ran",
            &release,
            command(Some("prod")),
            facts(THURSDAY_MORNING, Some(prod_done)),
        ),
        (
            "no workflow with `[on.command]` deploys it",
            &deploy_code,
            command(Some("prod")),
            facts(THURSDAY_MORNING, Some(run("deploy-code", &["prod"]))),
        ),
    ]));
}

#[test]
fn schedules_fire_when_a_minute_of_their_cron_has_passed() {
    let release = release();
    let schedule =
        |since: &str, now: &str| (Event::Schedule { since: at(since) }, facts(now, None));
    // Monday 31 March 2025 06:00 in Berlin is 04:00 UTC (summer time).
    let (due, due_facts) = schedule("2025-03-31T03:59:00Z", "2025-03-31T04:00:00Z");
    let (early, early_facts) = schedule("2025-03-31T03:00:00Z", "2025-03-31T03:59:00Z");
    let (weeks, weeks_facts) = schedule("2025-01-01T00:00:00Z", "2025-03-31T03:59:00Z");
    let (after, after_facts) = schedule("2025-03-31T04:00:00Z", "2025-03-31T04:30:00Z");
    insta::assert_snapshot!(table(&[
        (
            "Monday 06:00 in Berlin has just passed: due",
            &release,
            due,
            due_facts
        ),
        ("05:59: not yet", &release, early, early_facts),
        (
            "checked last in January: due once",
            &release,
            weeks,
            weeks_facts
        ),
        (
            "already fired at 06:00: not again",
            &release,
            after,
            after_facts
        ),
    ]));
}

#[test]
fn waits_read_as_words_for_a_pull_request_comment() {
    let words = [
        Wait::Approvals {
            have: 1,
            need: 2,
            from: vec![
                Approver::parse("acme/platform").expect("team"),
                Approver::parse("alice").expect("user"),
            ],
        },
        Wait::Command {
            environments: vec!["prod".into()],
        },
        Wait::Window {
            opens_at: at("2025-03-31T07:00:00Z"),
            timezone: "Europe/Berlin".into(),
        },
        Wait::Soak {
            until: at("2025-03-27T14:30:00Z"),
            after: "staging".into(),
            soak: Duration::from_secs(600),
        },
        Wait::Checks {
            pending: vec!["ci/test".into()],
            failed: vec![],
        },
        Wait::After {
            stage: "dev".into(),
        },
    ]
    .map(|w| w.to_string());
    assert_eq!(
        words,
        [
            "waits for 1 more approval from `acme/platform` or `alice` (1 of 2)",
            "waits for `/strata apply prod`",
            "deploy window opens Mon 09:00 Europe/Berlin",
            "soaks until 14:30 UTC (10m after `staging`)",
            "waits for checks: `ci/test` pending",
            "waits for `dev`",
        ]
    );
}

#[test]
fn the_example_workflows_load_without_a_diagnostic() {
    let (workflows, warnings) = load_files(&[
        (
            "workflows/deploy-code.toml",
            include_str!("../../../workflows/deploy-code.toml"),
        ),
        (
            "workflows/release.toml",
            include_str!("../../../workflows/release.toml"),
        ),
    ]);
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert!(!workflows.builtin);
    let release = workflows.get("release").expect("release");
    assert_eq!(release.outline(), "dev → staging → prod");
    assert_eq!(release.stage("prod").map(|s| s.when), Some(When::Command));
    let deploy_code = workflows.get("deploy-code").expect("deploy-code");
    assert!(deploy_code.code_only);
    assert_eq!(
        deploy_code.inputs["image_tag"].parameters,
        vec!["*ImageTag".to_owned()]
    );
    assert_eq!(
        workflows.teams(),
        BTreeSet::from(["acme/platform".to_owned()])
    );
}

#[test]
fn the_built_in_default_puts_unprotected_environments_first_in_name_order() {
    let builtin = builtin();
    assert!(builtin.builtin);
    let default = builtin.get(BUILTIN_NAME).expect("default");
    assert_eq!(default.outline(), "dev → staging → prod");
    assert_eq!(
        default.stage("staging").map(|s| s.after.clone()),
        Some(vec!["dev".to_owned()])
    );
    assert_eq!(default.stage("prod").map(|s| s.when), Some(When::Command));
    let environments = environments();
    let (loaded, warnings) = Workflows::load(
        &[],
        &Known {
            default_branch: "main",
            environments: &environments,
        },
    )
    .expect("no files is the built-in default");
    assert!(loaded.builtin && warnings.is_empty());
}

#[test]
fn warns_when_two_workflows_deploy_an_environment_on_the_same_push() {
    let (_, warnings) = load_files(&[
        (
            "workflows/a.toml",
            "[on.push]\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n",
        ),
        (
            "workflows/b.toml",
            "[on.push]\nbranches = [\"ma*\"]\n[[stages]]\nname = \"all\"\nenvironments = [\"dev\", \"staging\"]\n",
        ),
    ]);
    let messages: Vec<String> = warnings.iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        messages,
        ["workflows `a` and `b` both deploy `dev` on a push to `ma*`"]
    );
}

#[test]
fn parameter_patterns_match_with_a_star() {
    assert!(parameter_matches("*ImageTag", "ApiImageTag"));
    assert!(parameter_matches("*ImageTag", "ImageTag"));
    assert!(parameter_matches("Api*Tag", "ApiImageTag"));
    assert!(parameter_matches("*", "Anything"));
    assert!(!parameter_matches("*ImageTag", "ApiImageTagOld"));
    assert!(!parameter_matches("ApiImageTag", "WorkerImageTag"));
    assert!(parameter_matches("release/*", "release/1.2"));
}

#[test]
fn every_example_in_the_reference_loads_without_a_diagnostic() {
    let reference = include_str!("../../../workflows/README.md");
    let mut blocks = 0;
    for (index, block) in reference.split("```toml\n").skip(1).enumerate() {
        let text = block.split("```").next().unwrap_or_default();
        let (workflows, warnings) =
            load_files(&[(&format!("workflows/example-{index}.toml"), text)]);
        assert!(warnings.is_empty(), "example {index}: {warnings:#?}");
        assert_eq!(workflows.workflows.len(), 1);
        blocks += 1;
    }
    assert!(blocks >= 5, "only {blocks} examples found");
}

#[test]
fn a_decision_serializes_to_json_for_the_run_history() {
    let release = release();
    let decision = decide(
        &release,
        &Event::Tick,
        &facts(
            "2025-03-27T15:30:00Z",
            Some(with(
                run("release", &["dev", "staging", "prod"]),
                "dev",
                done("2025-03-27T15:25:00Z"),
            )),
        ),
    );
    let json = serde_json::to_value(&decision).expect("serializes");
    assert_eq!(json["runs"][0]["stages"][0]["verdict"]["verdict"], "done");
    assert_eq!(
        json["runs"][0]["stages"][1]["verdict"]["why"][0]["wait"],
        "soak"
    );
}

#[test]
fn notify_and_heal_load_into_the_model_with_their_defaults() {
    let release = release();
    let workflow = release.get("release").expect("release");
    assert_eq!(
        workflow.notify,
        Some(Notify {
            webhook: Webhook::Env("SLACK_WEBHOOK_URL".to_owned()),
            on: NotifyEvent::ALL.into_iter().collect(),
        })
    );
    assert!(!workflow.on.schedule[0].heal);

    let healing = load(
        "workflows/heal.toml",
        "[[on.schedule]]\ncron = \"0 * * * *\"\nheal = true\n\n\
         [notify]\nslack = \"https://hooks.slack.com/services/T0/B0/X\"\non = [\"drift\"]\n\n\
         [[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n",
    );
    let workflow = healing.get("heal").expect("heal");
    assert!(workflow.on.schedule[0].heal);
    assert_eq!(workflow.on.schedule[0].action, ScheduleAction::Drift);
    let notify = workflow.notify.as_ref().expect("[notify]");
    assert!(notify.wants(NotifyEvent::Drift));
    assert!(!notify.wants(NotifyEvent::Apply));
    assert_eq!(notify.webhook.to_string(), "https://hooks.slack.com/…");
}

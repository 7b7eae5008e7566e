//! What the server says on a pull request, as Markdown: the plan comment, the
//! apply comments, lock notices and replies. Pure functions of plain data, so
//! every shape is a snapshot test.

use std::time::Duration;

use crate::deploy::Outcome;
use crate::forge::MAX_COMMENT_CHARS;
use crate::plan::Plan;
use crate::state::Lock;

/// The hidden marker of the one plan comment of a pull request.
pub const PLAN_MARKER: &str = "<!-- strata:pr -->";

/// The hidden marker of the comment of apply run `run`.
pub fn apply_marker(run: i64) -> String {
    format!("<!-- strata:apply run={run} -->")
}

/// An environment a pull request could not take, because another holds it.
#[derive(Debug, Clone)]
pub struct Blocked {
    /// The environment.
    pub environment: String,
    /// The lock in the way.
    pub lock: Lock,
}

/// Everything the plan comment shows.
#[derive(Debug, Clone)]
pub struct PlanComment<'a> {
    /// The commit planned (full id).
    pub head_sha: &'a str,
    /// The plan of the environments this pull request holds; `None` when the
    /// change could not be planned at all.
    pub plan: Option<&'a Plan>,
    /// Environments the change touches that another pull request holds.
    pub blocked: &'a [Blocked],
    /// Why the change could not be planned, one message per line.
    pub problems: &'a [String],
    /// What the plan lacks (a CloudFormation preview that failed).
    pub warnings: &'a [String],
    /// What the pull request changes in what governs deploys (workflow
    /// files, `strata.toml`, module binaries), one line each: shown first.
    pub governance: &'a [String],
    /// The promotion the merge starts, stage by stage.
    pub stages: &'a [StageLine],
    /// Whether CloudFormation change sets were merged in.
    pub cloud: bool,
}

/// The plan comment, with its marker, at most [`MAX_COMMENT_CHARS`] long.
pub fn plan_comment(comment: &PlanComment<'_>) -> String {
    // A plan brings its own heading (`base` → `head`); otherwise say which
    // commit this is about.
    let has_plan = comment.plan.is_some_and(|p| !p.environments.is_empty());
    let mut top = if has_plan {
        format!("{PLAN_MARKER}\n")
    } else {
        format!(
            "{PLAN_MARKER}\n## Strata plan for `{}`\n\n",
            short(comment.head_sha)
        )
    };
    if !comment.governance.is_empty() {
        top.push_str("> [!IMPORTANT]\n> **This pull request changes how Strata deploys.**\n");
        for line in comment.governance {
            top.push_str(&format!("> - {}\n", line.trim_end()));
        }
        top.push('\n');
    }
    if !comment.problems.is_empty() {
        top.push_str("**The change could not be planned.**\n\n```text\n");
        for problem in comment.problems {
            top.push_str(problem.trim_end());
            top.push('\n');
        }
        top.push_str("```\n\nPush a fix; the plan runs again on every push.\n\n");
    }
    for warning in comment.warnings {
        top.push_str(&format!(
            "> [!NOTE]\n> {}\n\n",
            warning.trim_end().replace('\n', "\n> ")
        ));
    }
    for blocked in comment.blocked {
        let lock = &blocked.lock;
        top.push_str(&format!(
            "> [!WARNING]\n> 🔒 `{}` is locked by [#{}]({}) (@{}, at `{}`): it is not planned here. \
             It is released when #{} is merged or closed, or with `/strata unlock {}` there; \
             Strata then plans it here again (or comment `/strata plan {}`).\n\n",
            blocked.environment,
            lock.holder.pr,
            lock.holder.url,
            lock.holder.user,
            short(&lock.holder.head_sha),
            lock.holder.pr,
            blocked.environment,
            blocked.environment,
        ));
    }
    let footer = footer(comment);
    let body = match comment.plan {
        Some(plan) if !plan.environments.is_empty() => {
            let room =
                MAX_COMMENT_CHARS.saturating_sub(top.chars().count() + footer.chars().count() + 2);
            crate::plan::markdown::render(plan, room)
        }
        Some(_) if comment.blocked.is_empty() && comment.problems.is_empty() => {
            "No environment file changed: nothing to plan.\n".to_owned()
        }
        _ => String::new(),
    };
    if body.is_empty() {
        format!("{top}{footer}")
    } else {
        format!("{top}{body}\n{footer}")
    }
}

/// One stage of a promotion, as a row of the stages table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageLine {
    /// The workflow (`release`).
    pub workflow: String,
    /// The stage (`prod`).
    pub stage: String,
    /// The environments it applies.
    pub environments: Vec<String>,
    /// An icon and where it is: "✅ done", "⏳ waits for `/strata apply prod`".
    pub state: String,
}

/// The stages table: one row per stage.
pub fn stages_table(stages: &[StageLine]) -> String {
    let mut text =
        String::from("| workflow | stage | environments | state |\n| --- | --- | --- | --- |\n");
    for line in stages {
        let environments = if line.environments.is_empty() {
            "—".to_owned()
        } else {
            line.environments
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!(
            "| {} | `{}` | {environments} | {} |\n",
            line.workflow,
            line.stage,
            cell(&line.state)
        ));
    }
    text
}

/// The hidden marker of the comment of the promotion of `workflow` at `commit`.
pub fn promotion_marker(workflow: &str, commit: &str) -> String {
    format!("<!-- strata:promotion workflow={workflow} commit={commit} -->")
}

/// Everything a promotion comment shows.
#[derive(Debug, Clone)]
pub struct PromotionComment<'a> {
    /// Its marker ([`promotion_marker`]).
    pub marker: &'a str,
    /// The workflow.
    pub workflow: &'a str,
    /// The commit promoted (full id).
    pub commit: &'a str,
    /// Its stages.
    pub stages: &'a [StageLine],
}

/// The promotion comment: where each stage of a merged change stands.
pub fn promotion_comment(promotion: &PromotionComment<'_>) -> String {
    let mut text = format!(
        "{}\n## Strata promotion of `{}` (workflow `{}`)\n\n",
        promotion.marker,
        short(promotion.commit),
        promotion.workflow
    );
    text.push_str(&stages_table(promotion.stages));
    let waiting = promotion
        .stages
        .iter()
        .any(|s| s.state.contains("/strata apply"));
    text.push_str("\n<sub>Each stage's applies are reported in their own comments. ");
    if waiting {
        text.push_str("A writer comments `/strata apply ENV` to release a stage that waits for a command; `/strata approve ENV` approves one that waits for approvals. ");
    }
    text.push_str("`/strata help` lists the commands.</sub>\n");
    text
}

fn footer(comment: &PlanComment<'_>) -> String {
    let mut text = String::from("---\n");
    if !comment.stages.is_empty() {
        text.push_str("**When merged**, the promotion goes:\n\n");
        text.push_str(&stages_table(comment.stages));
        text.push('\n');
    }
    let envs: Vec<&str> = comment
        .plan
        .map(|p| p.environments.iter().map(|e| e.name.as_str()).collect())
        .unwrap_or_default();
    if let Some(first) = envs.first() {
        if comment.stages.is_empty() {
            text.push_str(&format!(
                "To apply, a writer comments `/strata apply` (every environment above) or `/strata apply {first}`. \
                 Merging applies {} too.\n",
                if envs.len() == 1 { "it" } else { "them" }
            ));
        } else {
            text.push_str(&format!(
                "To apply before merging, a writer comments `/strata apply` (every environment above) or `/strata apply {first}`.\n"
            ));
        }
    }
    text.push_str(&format!(
        "<sub>{} · `/strata help` lists the commands.</sub>\n",
        if comment.cloud {
            "git diff of the templates, with CloudFormation change sets"
        } else {
            "git diff of the templates (no CloudFormation change sets)"
        }
    ));
    text
}

/// Where one stack of an apply is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// Waiting for its wave.
    Waiting,
    /// Being created, updated or deleted; the last status CloudFormation gave.
    Running(String),
    /// Done.
    Done {
        /// How it went.
        outcome: Outcome,
        /// How long it took.
        duration: Duration,
        /// Why it failed or was skipped.
        reason: Option<String>,
    },
}

/// A stack of an apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRow {
    /// The stack.
    pub stack: String,
    /// Its wave, 1-based; 0 for a deletion.
    pub wave: usize,
    /// Where it is.
    pub row: Row,
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Still running.
    Running,
    /// Every stack went well.
    Succeeded,
    /// A stack failed.
    Failed,
    /// It could not start, or stopped: why.
    Stopped(String),
}

/// Everything an apply comment shows.
#[derive(Debug, Clone)]
pub struct ApplyComment {
    /// The run, for the marker.
    pub run: i64,
    /// The environment.
    pub environment: String,
    /// The commit deployed (full id).
    pub head_sha: String,
    /// What started it: "`/strata apply` by @alice", "the merge of #7".
    pub trigger: String,
    /// Its stacks, in wave order, then deletions.
    pub stacks: Vec<StackRow>,
    /// Where it is.
    pub ending: Ending,
    /// Wall time so far.
    pub elapsed: Duration,
}

/// The apply comment, with its marker.
pub fn apply_comment(apply: &ApplyComment) -> String {
    let (icon, word) = match &apply.ending {
        Ending::Running => ("⏳", "running"),
        Ending::Succeeded => ("✅", "succeeded"),
        Ending::Failed => ("❌", "failed"),
        Ending::Stopped(_) => ("⚠️", "stopped"),
    };
    let mut text = format!(
        "{}\n## {icon} Strata apply of `{}` at `{}`: {word}\n\nStarted by {}.",
        apply_marker(apply.run),
        apply.environment,
        short(&apply.head_sha),
        apply.trigger
    );
    if apply.ending != Ending::Running {
        text.push_str(&format!(" Took {}.", seconds(apply.elapsed)));
    }
    text.push_str("\n\n");
    if let Ending::Stopped(why) = &apply.ending {
        text.push_str(&format!("**{}**\n\n", why.trim_end()));
    }
    if !apply.stacks.is_empty() {
        text.push_str(
            "| stack | wave | status | time | reason |\n| --- | --- | --- | --- | --- |\n",
        );
        for stack in &apply.stacks {
            let wave = if stack.wave == 0 {
                "delete".to_owned()
            } else {
                stack.wave.to_string()
            };
            let (status, time, reason) = match &stack.row {
                Row::Waiting => ("waiting".to_owned(), String::new(), String::new()),
                Row::Running(status) => (format!("⏳ `{status}`"), String::new(), String::new()),
                Row::Done {
                    outcome,
                    duration,
                    reason,
                } => (
                    format!("{} {}", outcome_icon(*outcome), outcome.label()),
                    if *outcome == Outcome::Skipped {
                        String::new()
                    } else {
                        seconds(*duration)
                    },
                    reason.as_deref().map(cell).unwrap_or_default(),
                ),
            };
            text.push_str(&format!(
                "| `{}` | {wave} | {status} | {time} | {reason} |\n",
                stack.stack
            ));
        }
        text.push('\n');
    }
    if apply.ending != Ending::Running && !apply.stacks.is_empty() {
        text.push_str(&counts(&apply.stacks));
        text.push('\n');
    }
    // A table of thousands of stacks with long reasons is the only way past
    // GitHub's limit; keep the marker and the top.
    if text.chars().count() > MAX_COMMENT_CHARS {
        let cut: String = text.chars().take(MAX_COMMENT_CHARS - 80).collect();
        text = format!("{cut}\n\n… (cut to fit GitHub's comment limit)\n");
    }
    text
}

fn counts(stacks: &[StackRow]) -> String {
    let parts: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|wanted| {
            let n = stacks
                .iter()
                .filter(|s| matches!(&s.row, Row::Done { outcome, .. } if outcome == wanted))
                .count();
            (n > 0).then(|| format!("{n} {}", wanted.label()))
        })
        .collect();
    if parts.is_empty() {
        "Nothing was deployed.".to_owned()
    } else {
        format!("{}.", parts.join(", "))
    }
}

fn outcome_icon(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Created | Outcome::Updated | Outcome::Deleted => "✅",
        Outcome::Unchanged => "➖",
        Outcome::Failed | Outcome::RolledBack => "❌",
        Outcome::Skipped => "⏭️",
    }
}

/// A comment naming who holds an environment, for a command that needs it.
pub fn locked_reply(environment: &str, lock: &Lock) -> String {
    format!(
        "🔒 `{environment}` is locked by [#{}]({}) (@{}). It is released when #{} is merged or closed, \
         or when someone comments `/strata unlock {environment}` there.",
        lock.holder.pr, lock.holder.url, lock.holder.user, lock.holder.pr
    )
}

/// The closing comment of an apply a previous server process never finished.
pub fn interrupted_comment(
    run: i64,
    environment: &str,
    head_sha: &str,
    stacks: &[(String, String)],
) -> String {
    let mut text = format!(
        "{}\n## ⚠️ Strata apply of `{environment}` at `{}`: interrupted\n\n\
         The server stopped while this apply was running. CloudFormation finishes what it had \
         started on its own; this is where each stack is now:\n\n",
        apply_marker(run),
        short(head_sha)
    );
    if stacks.is_empty() {
        text.push_str("(no stack had started)\n");
    } else {
        text.push_str("| stack | CloudFormation status |\n| --- | --- |\n");
        for (stack, status) in stacks {
            text.push_str(&format!("| `{stack}` | `{status}` |\n"));
        }
    }
    text.push_str(&format!(
        "\nComment `/strata apply {environment}` to apply again.\n"
    ));
    text
}

/// The first seven characters of a commit id.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Text safe in one table cell: one line, no pipes.
fn cell(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let escaped = one_line.replace('|', "\\|");
    if escaped.chars().count() > 300 {
        let cut: String = escaped.chars().take(299).collect();
        format!("{cut}…")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::state::Holder;

    fn lock() -> Lock {
        Lock {
            repo: "acme/infra".into(),
            environment: "prod".into(),
            holder: Holder {
                pr: 7,
                url: "https://github.com/acme/infra/pull/7".into(),
                head_sha: "0123456789abcdef".into(),
                user: "alice".into(),
            },
            acquired_at: UNIX_EPOCH,
        }
    }

    #[test]
    fn a_blocked_environment_names_its_holder_with_a_link() {
        let blocked = [Blocked {
            environment: "prod".into(),
            lock: lock(),
        }];
        let text = plan_comment(&PlanComment {
            head_sha: "fedcba9876543210",
            plan: None,
            blocked: &blocked,
            problems: &[],
            warnings: &[],
            governance: &[],
            stages: &[],
            cloud: false,
        });
        insta::assert_snapshot!(text);
    }

    #[test]
    fn problems_are_quoted_in_the_plan_comment() {
        let problems = [
            "error: unknown stack `netwrok` in `depends_on`\n  --> environments/prod.toml:12:15"
                .to_owned(),
        ];
        let text = plan_comment(&PlanComment {
            head_sha: "fedcba9876543210",
            plan: None,
            blocked: &[],
            problems: &problems,
            warnings: &[],
            governance: &[],
            stages: &[],
            cloud: true,
        });
        insta::assert_snapshot!(text);
    }

    fn stage(stage: &str, state: &str) -> StageLine {
        StageLine {
            workflow: "release".into(),
            stage: stage.into(),
            environments: vec![stage.into()],
            state: state.into(),
        }
    }

    #[test]
    fn a_change_to_what_governs_deploys_is_said_first_and_the_merge_is_previewed() {
        let governance = [
            "changes workflow `workflows/release.toml`: its stages and gates govern deploys only once merged; this pull request is still governed by the base branch's workflows".to_owned(),
            "changes module binary `modules/redis.wasm`: review its source and its `sha256` pin".to_owned(),
        ];
        let stages = [
            stage("dev", "▶️ next"),
            stage("staging", "⏸️ waits for `dev`; soaks 10m after `dev`"),
            stage(
                "prod",
                "⏸️ waits for `/strata apply prod`; waits for 1 more approval from `acme/platform` (0 of 1)",
            ),
        ];
        let text = plan_comment(&PlanComment {
            head_sha: "fedcba9876543210",
            plan: None,
            blocked: &[],
            problems: &[],
            warnings: &[],
            governance: &governance,
            stages: &stages,
            cloud: false,
        });
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_promotion_comment_has_a_row_per_stage_and_says_how_to_release_one() {
        let stages = [
            stage("dev", "✅ done"),
            stage("staging", "✅ done"),
            stage(
                "prod",
                "⏸️ waits for `/strata apply prod`; deploy window opens Mon 09:00 Europe/Berlin",
            ),
        ];
        let marker = promotion_marker("release", "0123456789abcdef0123");
        let text = promotion_comment(&PromotionComment {
            marker: &marker,
            workflow: "release",
            commit: "0123456789abcdef0123",
            stages: &stages,
        });
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_apply_comment_shows_every_stack_and_the_counts() {
        let apply = ApplyComment {
            run: 3,
            environment: "prod".into(),
            head_sha: "fedcba9876543210".into(),
            trigger: "`/strata apply prod` by @bob".into(),
            stacks: vec![
                StackRow {
                    stack: "networking".into(),
                    wave: 1,
                    row: Row::Done {
                        outcome: Outcome::Updated,
                        duration: Duration::from_millis(41_200),
                        reason: None,
                    },
                },
                StackRow {
                    stack: "database".into(),
                    wave: 2,
                    row: Row::Done {
                        outcome: Outcome::RolledBack,
                        duration: Duration::from_millis(95_000),
                        reason: Some(
                            "DBInstance CREATE_FAILED: DB instance class | not\nsupported".into(),
                        ),
                    },
                },
                StackRow {
                    stack: "compute".into(),
                    wave: 3,
                    row: Row::Done {
                        outcome: Outcome::Skipped,
                        duration: Duration::ZERO,
                        reason: Some("not started: it needs `database`, which failed".into()),
                    },
                },
            ],
            ending: Ending::Failed,
            elapsed: Duration::from_secs(137),
        };
        insta::assert_snapshot!(apply_comment(&apply));
    }

    #[test]
    fn a_running_apply_shows_the_last_cloudformation_status() {
        let apply = ApplyComment {
            run: 4,
            environment: "dev".into(),
            head_sha: "abc".into(),
            trigger: "the merge of #7".into(),
            stacks: vec![
                StackRow {
                    stack: "networking".into(),
                    wave: 1,
                    row: Row::Running("CREATE_IN_PROGRESS".into()),
                },
                StackRow {
                    stack: "security".into(),
                    wave: 2,
                    row: Row::Waiting,
                },
            ],
            ending: Ending::Running,
            elapsed: Duration::from_secs(3),
        };
        let text = apply_comment(&apply);
        assert!(text.starts_with("<!-- strata:apply run=4 -->"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_interrupted_apply_lists_the_stacks_real_states() {
        let text = interrupted_comment(
            5,
            "prod",
            "fedcba9876543210",
            &[
                ("networking".into(), "UPDATE_COMPLETE".into()),
                ("database".into(), "UPDATE_IN_PROGRESS".into()),
            ],
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_table_cell_is_one_line_without_pipes() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}

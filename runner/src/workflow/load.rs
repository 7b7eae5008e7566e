//! Reading `workflows/*.toml`: the TOML walked by hand with spans (like
//! environment files, see [`crate::config::raw`]), every problem of every file
//! collected, then the checks across stages, inputs and files. Also the
//! built-in default for a repository without workflow files.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;
use toml::de::DeTable;

use super::cron::Cron;
use super::decide::ticked;
use super::time::{self, Day, Window};
use super::{
    Approvals, Approver, BUILTIN_NAME, Branches, Commits, Gates, Input, Known, Notify, NotifyEvent,
    PushTrigger, Schedule, ScheduleAction, StackFilter, Stage, Triggers, Webhook, When, Workflow,
    Workflows,
};
use crate::config::fields::{At, Fields};
use crate::config::{Diagnostic, SourceFile, diagnostic, raw, suggest};

/// Top-level keys of a workflow file.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "description",
    "on",
    "inputs",
    "code_only",
    "stages",
    "notify",
];
const ON_KEYS: &[&str] = &["pull_request", "push", "command", "dispatch", "schedule"];
const PUSH_KEYS: &[&str] = &["branches", "commits"];
const COMMAND_KEYS: &[&str] = &["enabled", "approvals", "mergeable", "up_to_date", "checks"];
const SCHEDULE_KEYS: &[&str] = &["cron", "timezone", "action", "heal"];
const NOTIFY_KEYS: &[&str] = &["slack", "url_env", "on"];
const INPUT_KEYS: &[&str] = &[
    "description",
    "required",
    "default",
    "pattern",
    "parameters",
    "stacks",
];
const STAGE_KEYS: &[&str] = &[
    "name",
    "environments",
    "after",
    "when",
    "only",
    "except",
    "gates",
];
const GATE_KEYS: &[&str] = &[
    "approvals",
    "mergeable",
    "up_to_date",
    "checks",
    "window",
    "soak",
];
const APPROVAL_KEYS: &[&str] = &["count", "from"];
const WINDOW_KEYS: &[&str] = &["days", "hours", "timezone"];

/// A workflow with the spans the checks across files need.
struct Loaded {
    workflow: Workflow,
    source: Arc<SourceFile>,
    push: Option<Range<usize>>,
}

pub(super) fn load(
    sources: &[Arc<SourceFile>],
    known: &Known,
) -> Result<(Workflows, Vec<Diagnostic>), Vec<Diagnostic>> {
    if sources.is_empty() {
        return Ok((builtin(known), Vec::new()));
    }
    let mut diagnostics = Vec::new();
    let mut loaded = Vec::new();
    for source in sources {
        let mut reader = Reader {
            source,
            known,
            diagnostics: Vec::new(),
        };
        let workflow = reader.file();
        let failed = reader.diagnostics.iter().any(Diagnostic::is_error);
        diagnostics.append(&mut reader.diagnostics);
        if let (Some((workflow, push)), false) = (workflow, failed) {
            loaded.push(Loaded {
                workflow,
                source: Arc::clone(source),
                push,
            });
        }
    }
    overlapping_pushes(&loaded, known, &mut diagnostics);
    diagnostic::sort(&mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let mut workflows: Vec<Workflow> = loaded.into_iter().map(|l| l.workflow).collect();
    workflows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((
        Workflows {
            workflows,
            builtin: false,
        },
        diagnostics,
    ))
}

/// Two workflows that both deploy an environment on a push to the same
/// branch would deploy it twice.
fn overlapping_pushes(loaded: &[Loaded], known: &Known, diagnostics: &mut Vec<Diagnostic>) {
    for (index, later) in loaded.iter().enumerate() {
        let Some(push) = &later.workflow.on.push else {
            continue;
        };
        for earlier in &loaded[..index] {
            let Some(other) = &earlier.workflow.on.push else {
                continue;
            };
            let branches: Vec<&str> = push
                .branches
                .resolved(known.default_branch)
                .into_iter()
                .filter(|a| {
                    other
                        .branches
                        .resolved(known.default_branch)
                        .iter()
                        .any(|b| {
                            a == b
                                || super::parameter_matches(a, b)
                                || super::parameter_matches(b, a)
                        })
                })
                .collect();
            let mine = later.workflow.environments();
            let theirs = earlier.workflow.environments();
            let shared: Vec<&String> = mine.iter().filter(|e| theirs.contains(e)).collect();
            if branches.is_empty() || shared.is_empty() {
                continue;
            }
            let diagnostic = Diagnostic::warning(format!(
                "workflows `{}` and `{}` both deploy {} on a push to {}",
                earlier.workflow.name,
                later.workflow.name,
                ticked(shared.iter().map(|s| s.as_str())),
                ticked(branches.iter().copied()),
            ));
            let diagnostic = match &later.push {
                Some(span) => diagnostic.at(&later.source, span.clone(), "also deploys on a push"),
                None => diagnostic.at(&later.source, 0..0, ""),
            };
            diagnostics.push(diagnostic.with_help(format!(
                "each push would deploy them twice; leave the environments to one workflow, or give `{}` other `branches`",
                later.workflow.name
            )));
        }
    }
}

/// The built-in default (see [`Workflows::builtin`]).
pub(super) fn builtin(known: &Known) -> Workflows {
    let anyone = || Approvals {
        count: 1,
        from: Vec::new(),
    };
    let mut stages = Vec::new();
    let mut previous: Option<String> = None;
    for (name, _) in known.environments.iter().filter(|(_, e)| !e.protected) {
        stages.push(Stage {
            name: name.clone(),
            environments: vec![name.clone()],
            after: previous.iter().cloned().collect(),
            stacks: StackFilter::All,
            when: When::Auto,
            gates: Gates::default(),
        });
        previous = Some(name.clone());
    }
    for (name, _) in known.environments.iter().filter(|(_, e)| e.protected) {
        stages.push(Stage {
            name: name.clone(),
            environments: vec![name.clone()],
            after: Vec::new(),
            stacks: StackFilter::All,
            when: When::Command,
            gates: Gates {
                approvals: Some(anyone()),
                mergeable: true,
                ..Gates::default()
            },
        });
    }
    Workflows {
        workflows: vec![Workflow {
            name: BUILTIN_NAME.to_owned(),
            path: "(built in)".to_owned(),
            description: Some(
                "Plan pull requests into the default branch; apply on `/strata apply` after an approving review, \
                 and on merge for environments that are not protected"
                    .to_owned(),
            ),
            on: Triggers {
                pull_request: Some(Branches::default()),
                push: Some(PushTrigger {
                    branches: Branches::default(),
                    commits: Commits::Tip,
                }),
                command: true,
                command_gates: Gates {
                    approvals: Some(anyone()),
                    mergeable: true,
                    ..Gates::default()
                },
                dispatch: false,
                schedule: Vec::new(),
            },
            inputs: BTreeMap::new(),
            code_only: false,
            stages,
            notify: None,
        }],
        builtin: true,
    }
}

/// A stage as written, with the spans the checks across stages need.
struct RawStage {
    header: Range<usize>,
    name: Option<At<String>>,
    environments: Vec<At<String>>,
    after: Vec<At<String>>,
    when: When,
    only: Option<At<Vec<At<String>>>>,
    except: Option<At<Vec<At<String>>>>,
    gates: Gates,
    soak: Option<Range<usize>>,
}

/// The stacks an input names, kept with spans even when the input is invalid.
struct InputStacks {
    name: String,
    key: Range<usize>,
    stacks: Vec<At<String>>,
}

/// How much a file wrote, whether or not it was valid: warnings about what
/// is missing must not fire for what was written wrong.
struct Written {
    triggers: bool,
    inputs: usize,
    stages: usize,
}

/// Reads one file, collecting its diagnostics.
struct Reader<'a> {
    source: &'a Arc<SourceFile>,
    known: &'a Known<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    /// Record an error at `span`; set its `help` on the returned diagnostic.
    fn error(
        &mut self,
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::error(message).at(self.source, span, label))
    }

    /// Record a warning at `span`; set its `help` on the returned diagnostic.
    fn warning(
        &mut self,
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::warning(message).at(self.source, span, label))
    }

    /// Report the keys of a table not read as unknown. A top-level key
    /// (`code_only`, `description`) written below a table's header belongs
    /// to that table in TOML: say so rather than offer a did-you-mean.
    fn deny_unknown(&mut self, mut fields: Fields<'_, '_>, known: &[&str]) {
        let misplaced: Vec<String> = fields
            .rest()
            .map(|(key, _)| key.get_ref().to_string())
            .filter(|key| TOP_LEVEL_KEYS.contains(&key.as_str()) && !known.contains(&key.as_str()))
            .collect();
        for key in misplaced {
            if let Some((at, _)) = fields.value(&key) {
                self.error(
                    format!("`{key}` is a top-level key, but here it is read as part of a table"),
                    at.span(),
                    "inside the table above",
                )
                .help = Some(format!(
                    "in TOML, keys after a `[table]` header belong to that table: move `{key}` above the file's first table"
                ));
            }
        }
        fields.deny_unknown(known, &mut self.diagnostics);
    }

    fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        let index = self.diagnostics.len();
        self.diagnostics.push(diagnostic);
        &mut self.diagnostics[index]
    }

    /// The whole file: the workflow and the span of its `[on.push]`.
    fn file(&mut self) -> Option<(Workflow, Option<Range<usize>>)> {
        let source = self.source;
        let name = stem(&source.name);
        let document = match DeTable::parse(&source.text) {
            Ok(document) => document,
            Err(error) => {
                self.diagnostics.push(raw::syntax_error(source, &error));
                return None;
            }
        };
        if let Err(rule) = crate::config::check_identifier(&name, 40) {
            let suggestion = crate::config::identifier_suggestion(&name);
            self.error(
                format!("the file name `{name}` {rule}, so it cannot name a workflow"),
                0..0,
                "",
            )
            .help = (!suggestion.is_empty())
                .then(|| format!("rename it to `workflows/{suggestion}.toml`"));
        }
        let first_line = 0..source.text.find('\n').unwrap_or(source.text.len());
        let mut fields = Fields::new(
            source,
            document.get_ref(),
            first_line.clone(),
            format!("workflow `{name}`"),
        );
        let description = fields
            .string("description", &mut self.diagnostics)
            .map(Spanned::into_inner);
        let (on, push_span, on_written) = match fields.table("on", &mut self.diagnostics) {
            Some((table, span)) => {
                let (on, push) = self.triggers(table, span);
                (on, push, !table.is_empty())
            }
            None => (Triggers::default(), None, false),
        };
        let mut inputs = BTreeMap::new();
        let mut input_stacks = Vec::new();
        let mut written = Written {
            triggers: on_written,
            inputs: 0,
            stages: 0,
        };
        if let Some((table, _)) = fields.table("inputs", &mut self.diagnostics) {
            written.inputs = table.len();
            for (key, value) in table.iter() {
                let input_name = key.get_ref().to_string();
                let Some(inner) = value.get_ref().as_table() else {
                    self.error(
                        format!("input `{input_name}` must be a table"),
                        value.span(),
                        "expected a table",
                    )
                    .help = Some(format!(
                        "write it as `[inputs.{input_name}]` followed by `parameters = [...]` and `stacks = [...]`"
                    ));
                    continue;
                };
                let (input, stacks) = self.input(&input_name, key.span(), inner, value.span());
                input_stacks.push(InputStacks {
                    name: input_name.clone(),
                    key: key.span(),
                    stacks,
                });
                if let Some(input) = input {
                    inputs.insert(input_name, input);
                }
            }
        }
        let code_only = fields.boolean("code_only", &mut self.diagnostics);
        let raw_stages: Vec<RawStage> = fields
            .tables("stages", &mut self.diagnostics)
            .unwrap_or_default()
            .into_iter()
            .map(|(table, span)| self.stage(table, span))
            .collect();
        written.stages = raw_stages.len();
        let notify = fields
            .table("notify", &mut self.diagnostics)
            .and_then(|(table, span)| self.notify(table, span));
        fields.deny_unknown(TOP_LEVEL_KEYS, &mut self.diagnostics);

        let stages = self.check_stages(&raw_stages, &on);
        let workflow = Workflow {
            name: name.clone(),
            path: source.name.clone(),
            description,
            on,
            inputs,
            code_only: code_only.as_ref().is_some_and(|c| *c.get_ref()),
            stages,
            notify,
        };
        self.check_workflow(
            &workflow,
            &written,
            code_only.as_ref(),
            &input_stacks,
            &first_line,
        );
        Some((workflow, push_span))
    }

    fn triggers(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
    ) -> (Triggers, Option<Range<usize>>) {
        let source = self.source;
        let mut triggers = Triggers::default();
        let mut fields = Fields::new(source, table, span, "`[on]`");
        if let Some((table, span)) = fields.table("pull_request", &mut self.diagnostics) {
            let mut inner = Fields::new(source, table, span, "`[on.pull_request]`");
            triggers.pull_request = Some(self.branches(&mut inner));
            self.deny_unknown(inner, &["branches"]);
        }
        let mut push_span = None;
        if let Some((table, span)) = fields.table("push", &mut self.diagnostics) {
            push_span = Some(header_line(source, &span));
            let mut inner = Fields::new(source, table, span, "`[on.push]`");
            let branches = self.branches(&mut inner);
            let commits = match inner.string("commits", &mut self.diagnostics) {
                None => Commits::Tip,
                Some(value) => match value.get_ref().as_str() {
                    "tip" => Commits::Tip,
                    "each" => Commits::Each,
                    other => {
                        let help = suggest::help_for(other, &["tip", "each"], "one of");
                        self.error(
                            format!("`commits` must be `tip` or `each`, got `{other}`"),
                            value.span(),
                            "not `tip` or `each`",
                        )
                        .help = help;
                        Commits::Tip
                    }
                },
            };
            self.deny_unknown(inner, PUSH_KEYS);
            triggers.push = Some(PushTrigger { branches, commits });
        }
        if let Some((table, span)) = fields.table("command", &mut self.diagnostics) {
            let mut inner = Fields::new(source, table, span, "`[on.command]`");
            triggers.command = inner
                .boolean("enabled", &mut self.diagnostics)
                .is_none_or(|e| *e.get_ref());
            triggers.command_gates = self.gates(&mut inner, false).0;
            self.deny_unknown(inner, COMMAND_KEYS);
        }
        if let Some((table, span)) = fields.table("dispatch", &mut self.diagnostics) {
            let mut inner = Fields::new(source, table, span, "`[on.dispatch]`");
            triggers.dispatch = inner
                .boolean("enabled", &mut self.diagnostics)
                .is_none_or(|e| *e.get_ref());
            self.deny_unknown(inner, &["enabled"]);
        }
        for (table, span) in fields
            .tables("schedule", &mut self.diagnostics)
            .unwrap_or_default()
        {
            if let Some(schedule) = self.schedule(table, span) {
                triggers.schedule.push(schedule);
            }
        }
        self.deny_unknown(fields, ON_KEYS);
        (triggers, push_span)
    }

    fn branches(&mut self, fields: &mut Fields<'_, '_>) -> Branches {
        let Some(list) = fields.strings("branches", &mut self.diagnostics) else {
            return Branches::default();
        };
        if list.get_ref().is_empty() {
            self.error("`branches` is empty", list.span(), "no branch")
                .help = Some("leave `branches` out to mean the repository's default branch".into());
        }
        let mut branches = Vec::new();
        for branch in list.into_inner() {
            if branch.get_ref().trim().is_empty() || branch.get_ref().contains(char::is_whitespace)
            {
                self.error(
                    format!("`{}` is not a branch name", branch.get_ref()),
                    branch.span(),
                    "not a branch",
                );
            } else {
                branches.push(branch.into_inner());
            }
        }
        Branches { branches }
    }

    fn schedule(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Schedule> {
        let source = self.source;
        let header = header_line(source, &span);
        let mut fields = Fields::new(source, table, header, "`[[on.schedule]]`");
        let cron_text = fields.required_string(
            "cron",
            "add `cron = \"0 6 * * mon-fri\"` (minute hour day-of-month month day-of-week)",
            &mut self.diagnostics,
        );
        let timezone = self.time_zone(&mut fields);
        let action = match fields.string("action", &mut self.diagnostics) {
            None => Some(ScheduleAction::Drift),
            Some(value) => match value.get_ref().as_str() {
                "drift" => Some(ScheduleAction::Drift),
                "apply" => Some(ScheduleAction::Apply),
                other => {
                    let help = suggest::help_for(other, &["drift", "apply"], "one of");
                    self.error(
                        format!("`action` must be `drift` or `apply`, got `{other}`"),
                        value.span(),
                        "not `drift` or `apply`",
                    )
                    .help = help;
                    None
                }
            },
        };
        let heal = fields.boolean("heal", &mut self.diagnostics);
        if let Some(heal) = &heal
            && *heal.get_ref()
            && action == Some(ScheduleAction::Apply)
        {
            self.error(
                "`heal` is only for `action = \"drift\"`",
                heal.span(),
                "with `action = \"apply\"`",
            )
            .help =
                Some("an `apply` schedule deploys git's state already: remove `heal`".to_owned());
        }
        self.deny_unknown(fields, SCHEDULE_KEYS);
        let cron_text = cron_text?;
        let cron = match Cron::parse(cron_text.get_ref()) {
            Ok(cron) => cron,
            Err(error) => {
                let span = inner_span(source, &cron_text, error.range.clone());
                self.error(
                    format!("invalid cron expression `{}`", cron_text.get_ref()),
                    span,
                    error.message,
                )
                .help = Some(error.help);
                return None;
            }
        };
        Some(Schedule {
            cron,
            timezone: timezone?,
            action: action?,
            heal: heal.is_some_and(|h| *h.get_ref()),
        })
    }

    /// `[notify]`: one of `slack` (the URL) or `url_env` (the variable
    /// holding it), and which events (`on`, default all).
    fn notify(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Notify> {
        let source = self.source;
        let header = header_line(source, &span);
        let mut fields = Fields::new(source, table, header.clone(), "`[notify]`");
        let url = fields.string("slack", &mut self.diagnostics);
        let env = fields.string("url_env", &mut self.diagnostics);
        let on = fields.strings("on", &mut self.diagnostics);
        self.deny_unknown(fields, NOTIFY_KEYS);
        let webhook = match (url, env) {
            (Some(_), Some(env)) => {
                self.error(
                    "`[notify]` has both `slack` and `url_env`",
                    env.span(),
                    "a second webhook",
                )
                .help = Some("keep one: `url_env` keeps the secret URL out of git".to_owned());
                None
            }
            (None, None) => {
                self.error(
                    "`[notify]` names no webhook",
                    header,
                    "no `slack` or `url_env`",
                )
                .help = Some(
                    "add `url_env = \"SLACK_WEBHOOK_URL\"` and set that variable where Strata runs to the incoming webhook's URL".to_owned(),
                );
                None
            }
            (Some(url), None) => {
                let text = url.get_ref();
                if text.starts_with("https://") || text.starts_with("http://") {
                    Some(Webhook::Url(url.into_inner()))
                } else {
                    self.error(
                        format!("`slack` must be an `https://` URL, got `{text}`"),
                        url.span(),
                        "not a URL",
                    )
                    .help = Some(
                        "paste the incoming webhook's URL (`https://hooks.slack.com/services/...`), or name a variable holding it with `url_env`".to_owned(),
                    );
                    None
                }
            }
            (None, Some(env)) => {
                let name = env.get_ref();
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if valid {
                    Some(Webhook::Env(env.into_inner()))
                } else {
                    let suggestion: String = name
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() {
                                c.to_ascii_uppercase()
                            } else {
                                '_'
                            }
                        })
                        .collect();
                    // A URL here is the secret itself: not repeated in the message.
                    let message = if name.contains("://") {
                        "`url_env` must name an environment variable, not hold the URL".to_owned()
                    } else {
                        format!("`url_env` must name an environment variable, got `{name}`")
                    };
                    self.error(message, env.span(), "uppercase letters, digits and `_`")
                        .help = if name.contains("://") {
                        Some(
                            "that is a URL: put it in `slack`, or better in a variable named here"
                                .to_owned(),
                        )
                    } else {
                        Some(format!("write `{suggestion}`"))
                    };
                    None
                }
            }
        };
        let mut events = std::collections::BTreeSet::new();
        match on {
            None => events.extend(NotifyEvent::ALL),
            Some(list) => {
                if list.get_ref().is_empty() {
                    self.error("`on` is empty", list.span(), "no event").help = Some(
                        "leave `on` out to announce every event, or remove `[notify]`".to_owned(),
                    );
                }
                let names: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.as_str()).collect();
                for event in list.into_inner() {
                    match NotifyEvent::ALL
                        .into_iter()
                        .find(|e| e.as_str() == event.get_ref())
                    {
                        Some(found) => {
                            events.insert(found);
                        }
                        None => {
                            let help = suggest::help_for(event.get_ref(), &names, "the events are");
                            self.error(
                                format!("unknown event `{}` in `on`", event.get_ref()),
                                event.span(),
                                "not `apply`, `gate` or `drift`",
                            )
                            .help = help;
                        }
                    }
                }
            }
        }
        Some(Notify {
            webhook: webhook?,
            on: events,
        })
    }

    /// `timezone = "..."` (default `UTC`), checked against the tz database.
    fn time_zone(&mut self, fields: &mut Fields<'_, '_>) -> Option<String> {
        let Some(value) = fields.string("timezone", &mut self.diagnostics) else {
            return Some("UTC".to_owned());
        };
        match time::check_time_zone(value.get_ref()) {
            Ok(()) => Some(value.into_inner()),
            Err(help) => {
                self.error(
                    format!("unknown time zone `{}`", value.get_ref()),
                    value.span(),
                    "not an IANA time zone",
                )
                .help = Some(help);
                None
            }
        }
    }

    /// One `[inputs.NAME]`; with the span of its name.
    fn input(
        &mut self,
        name: &str,
        key_span: Range<usize>,
        table: &DeTable<'_>,
        span: Range<usize>,
    ) -> (Option<Input>, Vec<At<String>>) {
        let source = self.source;
        let errors = self.error_count();
        if !is_snake_case(name) {
            let suggestion = snake_case(name);
            self.error(
                format!("input name `{name}` must be snake_case: lowercase letters, digits and `_`, starting with a letter"),
                key_span,
                "not snake_case",
            )
            .help = (!suggestion.is_empty()).then(|| format!("try `[inputs.{suggestion}]`"));
        }
        let header = header_line(source, &span);
        let mut fields = Fields::new(source, table, header.clone(), format!("input `{name}`"));
        let description = fields
            .string("description", &mut self.diagnostics)
            .map(Spanned::into_inner);
        let required = fields
            .boolean("required", &mut self.diagnostics)
            .is_some_and(|r| *r.get_ref());
        let default = fields.string("default", &mut self.diagnostics);
        let pattern = fields.string("pattern", &mut self.diagnostics);
        let parameters = self.non_empty_list(
            &mut fields,
            "parameters",
            &header,
            format!("input `{name}` has no `parameters`"),
            "add the CloudFormation parameters it sets: `parameters = [\"*ImageTag\"]` (`*` matches any run of characters)",
        );
        let stacks = self.non_empty_list(
            &mut fields,
            "stacks",
            &header,
            format!("input `{name}` has no `stacks`"),
            "add the stacks whose parameters it sets: `stacks = [\"compute\"]`",
        );
        self.deny_unknown(fields, INPUT_KEYS);
        for parameter in &parameters {
            let text = parameter.get_ref();
            if text.is_empty() || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '*') {
                self.error(
                    format!("`{text}` is not a CloudFormation parameter name or pattern"),
                    parameter.span(),
                    "letters, digits and `*` only",
                )
                .help = Some("parameter names are alphanumeric; `*` matches any run of characters: `*ImageTag`".into());
            }
        }
        if let Some(pattern) = &pattern {
            match regex::Regex::new(pattern.get_ref()) {
                Err(error) => {
                    self.error(
                        format!("`pattern` of input `{name}` is not a valid regular expression"),
                        pattern.span(),
                        regex_problem(&error),
                    )
                    .help = Some("the syntax is the `regex` crate's (like Perl's, without look-around or backreferences); anchor it with `^...$`".into());
                }
                Ok(regex) => {
                    if let Some(default) = &default
                        && !regex.is_match(default.get_ref())
                    {
                        self.error(
                            format!(
                                "the default `{}` of input `{name}` does not match its `pattern`",
                                default.get_ref()
                            ),
                            default.span(),
                            format!("does not match `{}`", pattern.get_ref()),
                        );
                    }
                }
            }
        }
        let input = (self.error_count() == errors).then(|| Input {
            description,
            required,
            default: default.map(Spanned::into_inner),
            pattern: pattern.map(Spanned::into_inner),
            parameters: parameters.into_iter().map(Spanned::into_inner).collect(),
            stacks: stacks.iter().map(|s| s.get_ref().clone()).collect(),
        });
        (input, stacks)
    }

    /// A list that must be present and hold at least one item.
    fn non_empty_list(
        &mut self,
        fields: &mut Fields<'_, '_>,
        key: &str,
        header: &Range<usize>,
        missing: String,
        help: &str,
    ) -> Vec<At<String>> {
        match fields.strings(key, &mut self.diagnostics) {
            None => {
                self.error(missing, header.clone(), format!("`{key}` missing here"))
                    .help = Some(help.to_owned());
                Vec::new()
            }
            Some(list) if list.get_ref().is_empty() => {
                self.error(format!("`{key}` is empty"), list.span(), "nothing listed")
                    .help = Some(help.to_owned());
                Vec::new()
            }
            Some(list) => list.into_inner(),
        }
    }

    fn stage(&mut self, table: &DeTable<'_>, span: Range<usize>) -> RawStage {
        let source = self.source;
        let header = header_line(source, &span);
        let name = table
            .get("name")
            .and_then(|n| n.get_ref().as_str())
            .map(str::to_owned);
        let what = match &name {
            Some(name) => format!("stage `{name}`"),
            None => "a stage".to_owned(),
        };
        let mut fields = Fields::new(source, table, header.clone(), what.clone());
        let name = fields.required_string(
            "name",
            "every stage has a name: `name = \"staging\"` (lowercase letters, digits and `-`)",
            &mut self.diagnostics,
        );
        let environments = match fields.strings("environments", &mut self.diagnostics) {
            None => {
                self.error(
                    format!("{what} has no `environments`"),
                    header.clone(),
                    "`environments` missing here",
                )
                .help = Some("name the environments it deploys: `environments = [\"staging\"]` (files of `environments/`)".into());
                Vec::new()
            }
            Some(list) if list.get_ref().is_empty() => {
                self.error(
                    format!("{what} deploys no environment"),
                    list.span(),
                    "empty",
                )
                .help = Some("name at least one: `environments = [\"staging\"]`".into());
                Vec::new()
            }
            Some(list) => list.into_inner(),
        };
        let after = fields
            .strings("after", &mut self.diagnostics)
            .map(Spanned::into_inner)
            .unwrap_or_default();
        let when = match fields.string("when", &mut self.diagnostics) {
            None => When::Auto,
            Some(value) => match value.get_ref().as_str() {
                "auto" => When::Auto,
                "command" => When::Command,
                other => {
                    let help = suggest::help_for(other, &["auto", "command"], "one of");
                    self.error(
                        format!("`when` must be `auto` or `command`, got `{other}`"),
                        value.span(),
                        "not `auto` or `command`",
                    )
                    .help = help;
                    When::Auto
                }
            },
        };
        let only = fields.strings("only", &mut self.diagnostics);
        let except = fields.strings("except", &mut self.diagnostics);
        if let Some((key, _)) = fields.value("soak") {
            self.error(
                format!("`soak` of {what} belongs under `[stages.gates]`"),
                key.span(),
                "a gate, not a stage key",
            )
            .help = Some(
                "move it under the stage's `[stages.gates]`, or write `gates.soak = \"10m\"`"
                    .into(),
            );
        }
        let (gates, soak) = match fields.table("gates", &mut self.diagnostics) {
            Some((table, span)) => {
                let mut inner = Fields::new(
                    source,
                    table,
                    header_line(source, &span),
                    format!("the gates of {what}"),
                );
                let gates = self.gates(&mut inner, true);
                self.deny_unknown(inner, GATE_KEYS);
                gates
            }
            None => (Gates::default(), None),
        };
        self.deny_unknown(fields, STAGE_KEYS);
        RawStage {
            header,
            name,
            environments,
            after,
            when,
            only,
            except,
            gates,
            soak,
        }
    }

    /// Gate keys of `fields` (a stage's `[stages.gates]` when `stage`, else
    /// `[on.command]`, which takes no `window` or `soak` and lets `from` be
    /// left out). With the span of `soak`.
    fn gates(&mut self, fields: &mut Fields<'_, '_>, stage: bool) -> (Gates, Option<Range<usize>>) {
        let source = self.source;
        let mut gates = Gates::default();
        if let Some((table, span)) = fields.table("approvals", &mut self.diagnostics) {
            let mut inner = Fields::new(source, table, span.clone(), "`approvals`");
            let count = match inner.integer("count", &mut self.diagnostics) {
                None => Some(1),
                Some(count) => match u32::try_from(*count.get_ref()) {
                    Ok(n) if n >= 1 => Some(n),
                    _ => {
                        self.error(
                            format!("`count` must be at least 1, got `{}`", count.get_ref()),
                            count.span(),
                            "at least 1",
                        )
                        .help = Some("leave `approvals` out to need no approval".into());
                        None
                    }
                },
            };
            let mut from = Vec::new();
            match inner.strings("from", &mut self.diagnostics) {
                None if stage => {
                    self.error("`approvals` has no `from`", span, "`from` missing here")
                        .help = Some("say whose approval counts: `from = [\"acme/platform\", \"alice\"]` (teams as `org/team`)".into());
                }
                None => {}
                Some(list) if list.get_ref().is_empty() => {
                    self.error("`from` is empty", list.span(), "nobody").help = Some(
                        "name users (`alice`) or teams (`acme/platform`) whose approval counts"
                            .into(),
                    );
                }
                Some(list) => {
                    for entry in list.into_inner() {
                        match Approver::parse(entry.get_ref()) {
                            Ok(approver) => from.push(approver),
                            Err(rule) => {
                                self.error(
                                    format!("`{}` is not a GitHub user or team", entry.get_ref()),
                                    entry.span(),
                                    rule,
                                )
                                .help = Some("a user is a login (`alice`), a team is `org/team-slug` (`acme/platform`)".into());
                            }
                        }
                    }
                }
            }
            self.deny_unknown(inner, APPROVAL_KEYS);
            gates.approvals = count.map(|count| Approvals { count, from });
        }
        gates.mergeable = fields
            .boolean("mergeable", &mut self.diagnostics)
            .is_some_and(|b| *b.get_ref());
        gates.up_to_date = fields
            .boolean("up_to_date", &mut self.diagnostics)
            .is_some_and(|b| *b.get_ref());
        if let Some(checks) = fields.strings("checks", &mut self.diagnostics) {
            for check in checks.into_inner() {
                if check.get_ref().trim().is_empty() {
                    self.error("a check name is empty", check.span(), "empty");
                } else {
                    gates.checks.push(check.into_inner());
                }
            }
        }
        if !stage {
            return (gates, None);
        }
        if let Some((table, span)) = fields.table("window", &mut self.diagnostics) {
            gates.window = self.window(table, span);
        }
        let mut soak_span = None;
        if let Some(soak) = fields.string("soak", &mut self.diagnostics) {
            soak_span = Some(soak.span());
            match time::parse_duration(soak.get_ref()) {
                Ok(duration) => gates.soak = Some(duration),
                Err(problem) => {
                    self.error(
                        format!("invalid `soak` duration `{}`", soak.get_ref()),
                        soak.span(),
                        problem,
                    )
                    .help = Some("units are `s`, `m`, `h` and `d`, largest first: `90s`, `10m`, `1h30m`, `2d`".into());
                }
            }
        }
        (gates, soak_span)
    }

    fn window(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Window> {
        let source = self.source;
        let errors = self.error_count();
        let mut fields = Fields::new(source, table, span.clone(), "`window`");
        let mut days = BTreeSet::new();
        let listed = fields.strings("days", &mut self.diagnostics);
        if let Some(list) = &listed {
            if list.get_ref().is_empty() {
                self.error(
                    "`days` is empty: the window never opens",
                    list.span(),
                    "no day",
                )
                .help = Some(
                    "list days (`[\"mon\", \"tue\"]`), or leave `days` out for every day".into(),
                );
            }
            for day in list.get_ref() {
                match Day::parse(day.get_ref()) {
                    Some(d) => {
                        days.insert(d);
                    }
                    None => {
                        let names: Vec<&str> = Day::ALL.iter().map(|d| d.as_str()).collect();
                        let help = suggest::help_for(day.get_ref(), &names, "days are");
                        self.error(
                            format!("`{}` is not a day of the week", day.get_ref()),
                            day.span(),
                            "not a day",
                        )
                        .help = help;
                    }
                }
            }
        }
        let hours = fields.string("hours", &mut self.diagnostics);
        let (start, end) = match &hours {
            None => (0, 24 * 60),
            Some(hours) => match time::parse_hours(hours.get_ref()) {
                Ok(range) => range,
                Err(problem) => {
                    self.error(
                        format!("invalid window hours `{}`", hours.get_ref()),
                        hours.span(),
                        problem,
                    )
                    .help = Some("write `HH:MM-HH:MM` in 24-hour time, opening before closing: `09:00-16:00`".into());
                    (0, 0)
                }
            },
        };
        let timezone = self.time_zone(&mut fields);
        self.deny_unknown(fields, WINDOW_KEYS);
        if listed.is_none() && hours.is_none() {
            self.warning("this window is always open", span, "no `days` or `hours`")
                .help = Some(
                "give it `days = [\"mon\", ...]` and/or `hours = \"09:00-16:00\"`, or remove it"
                    .into(),
            );
        }
        if self.error_count() > errors {
            return None;
        }
        Some(Window {
            days: if listed.is_some() {
                days.into_iter().collect()
            } else {
                Day::ALL.to_vec()
            },
            start,
            end,
            timezone: timezone?,
        })
    }

    /// Checks across the stages of a file, and the valid stages.
    fn check_stages(&mut self, raw: &[RawStage], on: &Triggers) -> Vec<Stage> {
        let known_envs: Vec<&str> = self.known.environments.keys().map(String::as_str).collect();
        let names: Vec<&str> = raw
            .iter()
            .filter_map(|s| s.name.as_ref().map(|n| n.get_ref().as_str()))
            .collect();
        let mut first_of_name: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        // environment → (stage, its filter) that deploys it already.
        let mut deployed: BTreeMap<String, Vec<(String, StackFilter)>> = BTreeMap::new();
        let mut stages = Vec::new();
        for (index, stage) in raw.iter().enumerate() {
            let errors = self.error_count();
            let name = stage.name.as_ref().map_or("", |n| n.get_ref().as_str());
            if let Some(at) = &stage.name {
                if let Err(rule) = crate::config::check_identifier(name, 40) {
                    let suggestion = crate::config::identifier_suggestion(name);
                    self.error(
                        format!("stage name `{name}` {rule}"),
                        at.span(),
                        "invalid stage name",
                    )
                    .help =
                        (!suggestion.is_empty()).then(|| format!("try `name = \"{suggestion}\"`"));
                }
                if let Some(first) = first_of_name.get(name) {
                    let diagnostic = Diagnostic::error(format!("two stages are named `{name}`"))
                        .at(self.source, at.span(), "second stage with this name")
                        .at(self.source, first.clone(), "first here")
                        .with_help("stage names are unique in a file: rename one");
                    self.push(diagnostic);
                } else {
                    first_of_name.insert(name, at.span());
                }
            }
            // `after`: earlier stages only.
            let earlier: Vec<&str> = raw[..index]
                .iter()
                .filter_map(|s| s.name.as_ref().map(|n| n.get_ref().as_str()))
                .collect();
            let mut after = Vec::new();
            for target in &stage.after {
                let text = target.get_ref().as_str();
                if earlier.contains(&text) {
                    if after.iter().any(|a: &String| a == text) {
                        self.warning(
                            format!("`{text}` is listed twice in `after`"),
                            target.span(),
                            "duplicate",
                        );
                    } else {
                        after.push(text.to_owned());
                    }
                } else if text == name || names.contains(&text) {
                    let what = if text == name {
                        "itself"
                    } else {
                        "a later stage"
                    };
                    self.error(
                        format!("stage `{name}` runs after `{text}`, which is {what}"),
                        target.span(),
                        "not an earlier stage",
                    )
                    .help = Some("stages run in the order they are declared; `after` can only name an earlier stage".into());
                } else {
                    let help = if earlier.is_empty() {
                        Some(format!(
                            "`{name}` is the first stage: it cannot run after another"
                        ))
                    } else {
                        suggest::help_for(text, &earlier, "earlier stages")
                    };
                    self.error(
                        format!("unknown stage `{text}` in `after` of stage `{name}`"),
                        target.span(),
                        format!("no stage named `{text}`"),
                    )
                    .help = help;
                }
            }
            // Environments.
            let mut environments: Vec<String> = Vec::new();
            let mut all_known = true;
            for environment in &stage.environments {
                let text = environment.get_ref();
                if !self.known.environments.contains_key(text) {
                    all_known = false;
                    let help = if known_envs.is_empty() {
                        Some("there are no files in `environments/`".to_owned())
                    } else {
                        suggest::help_for(text, &known_envs, "environments")
                    };
                    self.error(
                        format!("unknown environment `{text}` in stage `{name}`"),
                        environment.span(),
                        format!("no `environments/{text}.toml`"),
                    )
                    .help = help;
                } else if environments.contains(text) {
                    self.warning(
                        format!("environment `{text}` is listed twice"),
                        environment.span(),
                        "duplicate",
                    );
                } else {
                    environments.push(text.clone());
                }
            }
            // Stack filter.
            let stacks_of_stage: BTreeSet<&str> = environments
                .iter()
                .filter_map(|e| self.known.environments.get(e))
                .flat_map(|e| e.stacks.iter().map(String::as_str))
                .collect();
            let stacks_of_stage: Vec<&str> = stacks_of_stage.into_iter().collect();
            let mut filter = StackFilter::All;
            match (&stage.only, &stage.except) {
                (Some(_), Some(except)) => {
                    self.error(
                        format!("stage `{name}` has both `only` and `except`"),
                        except.span(),
                        "second filter",
                    )
                    .help = Some("keep one: `only` lists the stacks it deploys, `except` the stacks it leaves out".into());
                }
                (Some(list), None) | (None, Some(list)) => {
                    let key = if stage.only.is_some() {
                        "only"
                    } else {
                        "except"
                    };
                    if list.get_ref().is_empty() {
                        self.error(format!("`{key}` is empty"), list.span(), "no stack")
                            .help = Some(format!(
                            "name stacks, or leave `{key}` out to deploy every stack"
                        ));
                    }
                    let mut chosen = Vec::new();
                    for stack in list.get_ref() {
                        let text = stack.get_ref();
                        if all_known && !stacks_of_stage.contains(&text.as_str()) {
                            let help = suggest::help_for(
                                text,
                                &stacks_of_stage,
                                "stacks of its environments",
                            );
                            self.error(
                                format!("no environment of stage `{name}` has a stack `{text}`"),
                                stack.span(),
                                format!("no stack `{text}`"),
                            )
                            .help = help;
                        } else if !chosen.contains(text) {
                            chosen.push(text.clone());
                        }
                    }
                    filter = if stage.only.is_some() {
                        StackFilter::Only(chosen)
                    } else {
                        StackFilter::Except(chosen)
                    };
                }
                (None, None) => {}
            }
            // The same environment in two stages, with the same stacks.
            for environment in &stage.environments {
                let text = environment.get_ref();
                if !environments.contains(text) {
                    continue;
                }
                let entry = deployed.entry(text.clone()).or_default();
                if let Some((other, _)) = entry.iter().find(|(_, f)| *f == filter) {
                    let other = other.clone();
                    self.error(
                        format!("environment `{text}` is deployed by stages `{other}` and `{name}`"),
                        environment.span(),
                        format!("also in stage `{other}`"),
                    )
                    .help = Some("an environment belongs to one stage, unless the stages deploy different stacks of it (`only` / `except`)".into());
                } else {
                    entry.push((name.to_owned(), filter.clone()));
                }
            }
            if let Some(soak) = &stage.soak
                && stage.after.is_empty()
            {
                self.error(
                    format!("stage `{name}` soaks, but runs after no stage"),
                    soak.clone(),
                    "soak after what?",
                )
                .help = Some("`soak` is the time after the last of `after` finished: add `after = [\"...\"]`, or remove `soak`".into());
            }
            if stage.when == When::Command && !on.command && !on.dispatch {
                self.warning(
                    format!("stage `{name}` waits for a command, but the workflow has neither `[on.command]` nor `[on.dispatch]`"),
                    stage.name.as_ref().map_or(stage.header.clone(), Spanned::span),
                    "never released",
                )
                .help = Some("add `[on.command]` so `/strata apply ENV` releases it".into());
            }
            if self.error_count() == errors
                && let Some(at) = &stage.name
            {
                stages.push(Stage {
                    name: at.get_ref().clone(),
                    environments,
                    after,
                    stacks: filter,
                    when: stage.when,
                    gates: stage.gates.clone(),
                });
            }
        }
        stages
    }

    /// Checks of the workflow as a whole.
    fn check_workflow(
        &mut self,
        workflow: &Workflow,
        written: &Written,
        code_only: Option<&At<bool>>,
        input_stacks: &[InputStacks],
        first_line: &Range<usize>,
    ) {
        let name = &workflow.name;
        if let Some(code_only) = code_only
            && *code_only.get_ref()
            && written.inputs == 0
        {
            self.error(
                format!("workflow `{name}` is code-only but has no inputs"),
                code_only.span(),
                "nothing to change",
            )
            .help = Some("a code-only deploy only changes parameters: add an input, e.g. `[inputs.image_tag]` with `parameters = [\"*ImageTag\"]`".into());
        }
        if !written.triggers {
            self.warning(format!("workflow `{name}` never runs: it has no trigger"), first_line.clone(), "")
                .help = Some("add `[on.push]`, `[on.pull_request]`, `[on.command]`, `[on.dispatch]` or `[[on.schedule]]`".into());
        } else if written.stages == 0
            && (workflow.on.push.is_some()
                || workflow.on.command
                || workflow.on.dispatch
                || !workflow.on.schedule.is_empty())
        {
            self.warning(
                format!("workflow `{name}` has no stages: it deploys nothing"),
                first_line.clone(),
                "",
            )
            .help = Some("add `[[stages]]` with `name` and `environments`".into());
        }
        // Inputs' stacks exist in the workflow's environments.
        let environments = workflow.environments();
        let stacks: BTreeSet<&str> = if environments.is_empty() {
            self.known
                .environments
                .values()
                .flat_map(|e| e.stacks.iter())
                .map(String::as_str)
                .collect()
        } else {
            environments
                .iter()
                .filter_map(|e| self.known.environments.get(e))
                .flat_map(|e| e.stacks.iter().map(String::as_str))
                .collect()
        };
        let stacks: Vec<&str> = stacks.into_iter().collect();
        for InputStacks {
            name: input_name,
            stacks: listed,
            ..
        } in input_stacks
        {
            for stack in listed {
                let text = stack.get_ref();
                if !stacks.contains(&text.as_str()) {
                    let help = suggest::help_for(text, &stacks, "stacks");
                    self.error(
                        format!("input `{input_name}` sets parameters of stack `{text}`, which none of the workflow's environments has"),
                        stack.span(),
                        format!("no stack `{text}`"),
                    )
                    .help = help;
                }
            }
        }
        // Inputs a push or a schedule cannot give.
        let unattended = workflow.on.push.is_some()
            || workflow
                .on
                .schedule
                .iter()
                .any(|s| s.action == ScheduleAction::Apply);
        if unattended {
            for (input_name, input) in &workflow.inputs {
                if input.required && input.default.is_none() {
                    let span = input_stacks
                        .iter()
                        .find(|i| i.name == *input_name)
                        .map_or(first_line.clone(), |i| i.key.clone());
                    self.error(
                        format!("input `{input_name}` is required, but workflow `{name}` also runs on a push or schedule, which gives no inputs"),
                        span,
                        "required, no default",
                    )
                    .help = Some(format!("give `{input_name}` a `default`, or start the workflow only by `[on.dispatch]`"));
                }
            }
        }
    }

    fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// The file stem of `workflows/release.toml`.
fn stem(path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    file.strip_suffix(".toml").unwrap_or(file).to_owned()
}

/// The header line (`[[stages]]`, `[on.push]`) when `span` starts at one, else `span`.
fn header_line(source: &SourceFile, span: &Range<usize>) -> Range<usize> {
    let text = &source.text;
    let start = span.start.min(text.len());
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    if text[start..line_end].trim_start().starts_with('[') {
        start..line_end
    } else {
        span.clone()
    }
}

/// The span of `range` (bytes inside the string's value) in the file, when
/// the string is written without escapes; the whole value otherwise.
fn inner_span(source: &SourceFile, value: &At<String>, range: Range<usize>) -> Range<usize> {
    let span = value.span();
    let written = source.text.get(span.clone()).unwrap_or("");
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        if written.len() >= 2 * quote.len()
            && written.starts_with(quote)
            && written.ends_with(quote)
            && &written[quote.len()..written.len() - quote.len()] == value.get_ref()
        {
            let start = span.start + quote.len();
            return (start + range.start)
                ..(start + range.end.max(range.start + 1).min(value.get_ref().len()));
        }
    }
    span
}

fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `imageTag` → `image_tag`, `image-tag` → `image_tag`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_')
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .to_owned()
}

/// The last line of a regex error (`error: unclosed character class`).
fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.lines().next().unwrap_or("invalid"))
        .to_owned()
}

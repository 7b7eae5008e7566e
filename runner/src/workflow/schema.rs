//! The JSON Schema of workflow files, for editors (Taplo / Even Better TOML
//! read it through a `#:schema ../docs/workflow.schema.json` comment).
//! `strata schema --workflow` prints it; the repository keeps it in
//! `docs/workflow.schema.json` and a test fails when that copy is stale.

use serde_json::{Value, json};

/// The JSON Schema of a `workflows/*.toml` file. Every key has a description.
pub fn workflow_schema() -> Value {
    let identifier = "^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$";
    let strings = |description: &str| json!({ "description": description, "type": "array", "items": { "type": "string" } });
    let branches = strings(
        "Branch names (`*` matches any run of characters). Default: the repository's default branch.",
    );
    let approver = json!({
        "type": "string",
        "pattern": "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?(?:/[A-Za-z0-9_-]{1,100})?$",
    });
    let approvals = |from_required: bool| {
        let mut schema = json!({
            "description": "Approving reviews on the pull request: distinct reviewers, never its author.",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "count": { "description": "How many approvals are needed (default 1).", "type": "integer", "minimum": 1, "default": 1 },
                "from": { "description": "Whose approval counts: GitHub logins (`alice`) or teams (`org/team-slug`), any active member.", "type": "array", "items": approver, "minItems": 1 },
            },
        });
        if from_required {
            schema["required"] = json!(["from"]);
        }
        schema
    };
    let mergeable = json!({ "description": "Before merge: the pull request merges cleanly. Passes on the branch after a merge.", "type": "boolean", "default": false });
    let up_to_date = json!({ "description": "Before merge: the pull request is up to date with its base branch. Passes on the branch after a merge.", "type": "boolean", "default": false });
    let checks = strings("Commit statuses or check runs that must be green (`ci/test`).");
    let gates = json!({
        "description": "What must hold before the stage runs; every gate that does not is reported.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "approvals": approvals(true),
            "mergeable": mergeable,
            "up_to_date": up_to_date,
            "checks": checks,
            "window": {
                "description": "When the stage may deploy.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "days": { "description": "Days it opens on (default every day).", "type": "array", "items": { "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] }, "minItems": 1 },
                    "hours": { "description": "`HH:MM-HH:MM`, opening before closing (`24:00` may close it).", "type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}-[0-9]{1,2}:[0-9]{2}$" },
                    "timezone": { "description": "IANA time zone of `days` and `hours` (default `UTC`).", "type": "string", "default": "UTC" },
                },
            },
            "soak": { "description": "Wait this long after the last of `after` finished: `90s`, `10m`, `1h30m`, `2d`.", "type": "string", "pattern": "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$" },
        },
    });
    let stages = json!({
        "description": "The stages, run in the order they are declared.",
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["name", "environments"],
            "properties": {
                "name": { "description": "Lowercase letters, digits and `-`; unique in the file.", "type": "string", "pattern": identifier },
                "environments": { "description": "Environments it deploys (`environments/NAME.toml`); only those a change touches run.", "type": "array", "items": { "type": "string" }, "minItems": 1 },
                "after": { "description": "Earlier stages that must have succeeded (or had nothing to do) at the same commit.", "type": "array", "items": { "type": "string" } },
                "when": { "description": "`auto`: runs when its gates pass; `command`: also waits for `/strata apply ENV` (or a dispatch).", "enum": ["auto", "command"], "default": "auto" },
                "only": { "description": "Only these stacks (a targeted deploy). Not with `except`.", "type": "array", "items": { "type": "string" }, "minItems": 1 },
                "except": { "description": "Every stack but these. Not with `only`.", "type": "array", "items": { "type": "string" }, "minItems": 1 },
                "gates": gates,
            },
        },
    });
    let inputs = json!({
        "description": "Values a dispatch gives, each setting CloudFormation parameters of some stacks. Names are snake_case.",
        "type": "object",
        "propertyNames": { "pattern": "^[a-z][a-z0-9_]*$" },
        "additionalProperties": {
            "type": "object",
            "additionalProperties": false,
            "required": ["parameters", "stacks"],
            "properties": {
                "description": { "description": "What the input is.", "type": "string" },
                "required": { "description": "A dispatch must give it (unless it has a default).", "type": "boolean", "default": false },
                "default": { "description": "The value when none is given; must match `pattern`.", "type": "string" },
                "pattern": { "description": "A regular expression (Rust `regex` syntax) the value must match; anchor it with `^...$`.", "type": "string", "format": "regex" },
                "parameters": { "description": "CloudFormation parameter names it sets; `*` matches any run of characters (`*ImageTag`).", "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z0-9*]+$" }, "minItems": 1 },
                "stacks": { "description": "Stacks (names in the environment files) whose parameters it sets.", "type": "array", "items": { "type": "string" }, "minItems": 1 },
            },
        },
    });
    let on = json!({
        "description": "What starts the workflow. Without any trigger it never runs.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "pull_request": {
                "description": "Plan the environments a pull request touches, when it merges into one of `branches`.",
                "type": "object",
                "additionalProperties": false,
                "properties": { "branches": branches },
            },
            "push": {
                "description": "New commits on one of `branches` (a merge, a push) run the stages.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "branches": branches,
                    "commits": { "description": "Several commits pushed at once: `tip` runs only the newest (with everything they touch), `each` runs every commit in order.", "enum": ["tip", "each"], "default": "tip" },
                },
            },
            "command": {
                "description": "`/strata apply [ENV]` on a pull request runs stages (before merge) and releases stages with `when = \"command\"`. Gates here apply to every apply before merge.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "enabled": { "description": "Whether commands run this workflow (default true when the table is present).", "type": "boolean", "default": true },
                    "approvals": approvals(false),
                    "mergeable": mergeable,
                    "up_to_date": up_to_date,
                    "checks": checks,
                },
            },
            "dispatch": {
                "description": "`strata run WORKFLOW --input k=v` and `/strata run WORKFLOW k=v` start it, over every stage's environments.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "enabled": { "description": "Whether it can be dispatched (default true when the table is present).", "type": "boolean", "default": true },
                },
            },
            "schedule": {
                "description": "Cron triggers.",
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["cron"],
                    "properties": {
                        "cron": { "description": "Five fields: minute hour day-of-month month day-of-week; `*`, values, ranges `a-b`, steps `*/15`, lists `a,b`, names (`jan`, `mon-fri`).", "type": "string" },
                        "timezone": { "description": "IANA time zone the cron fields are in (default `UTC`).", "type": "string", "default": "UTC" },
                        "action": { "description": "`drift`: check the environments for drift; `apply`: run the stages at the branch tip.", "enum": ["drift", "apply"], "default": "drift" },
                        "heal": { "description": "With `action = \"drift\"`: heal drift found by applying again what git says the environment runs.", "type": "boolean", "default": false },
                    },
                },
            },
        },
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://strata.invalid/workflow.schema.json",
        "title": "Strata workflow file",
        "description": "When to plan and deploy what (`workflows/NAME.toml`): triggers, inputs and stages behind gates. See workflows/README.md. Generated by `strata schema --workflow`.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "description": { "description": "What the workflow is for, in one line.", "type": "string" },
            "on": on,
            "inputs": inputs,
            "code_only": { "description": "Every stage deploys only new parameter values, keeping each stack's deployed template (a code-only deploy). Needs inputs.", "type": "boolean", "default": false },
            "stages": stages,
            "notify": {
                "description": "A Slack-compatible incoming webhook (Slack; Mattermost reads its `text`) told of this workflow's applies, waiting gates and drift. Give `url_env` (a variable holding the secret URL) or `slack` (the URL).",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "slack": { "description": "The incoming webhook's URL. It is a secret: prefer `url_env`.", "type": "string", "pattern": "^https?://" },
                    "url_env": { "description": "The environment variable holding the incoming webhook's URL: `SLACK_WEBHOOK_URL`.", "type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$" },
                    "on": { "description": "Which events are announced (default all).", "type": "array", "items": { "enum": ["apply", "gate", "drift"] }, "minItems": 1 },
                },
                "oneOf": [ { "required": ["slack"] }, { "required": ["url_env"] } ],
            },
        },
    })
}

//! Rendering an environment: every stack's module runs in its own sandbox, in
//! parallel; then the host checks what came back.
//!
//! Per stack: the table is checked against the module's JSON Schema, the
//! module renders, the template must be a JSON object with `Resources`, its
//! `Export` names must be exactly the declared exports named
//! `{project}-{environment}-{stack}-{output}`, and every `Fn::ImportValue`
//! must be a declared import. Across stacks: every import must name an output
//! the other stack exports (the seeds' deploy-time `Export … not found`,
//! caught before anything deploys). Then the [`Graph`] orders the stacks into
//! waves. Problems become diagnostics pointing into the environment file; a
//! stack that fails does not stop the others from rendering.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::config::schema::{self, Problem};
use crate::config::{Diagnostic, Environment, Stack, StackName, suggest};
use crate::graph::{Graph, Reason, Wave};
use crate::host::{
    Host, ImportRef, Module, ModuleError, ModuleSeverity, RenderContext, ResourceTraits, TrapReason,
};
use crate::modules::{Origin, Registry, sha256_hex};

/// The largest template CloudFormation accepts in the request body.
pub const TEMPLATE_INLINE_LIMIT: usize = 51_200;
/// The largest template CloudFormation accepts from S3.
pub const TEMPLATE_URL_LIMIT: usize = 1_000_000;

/// A stack's rendered template and what the checks learned about it.
#[derive(Debug, Clone)]
pub struct RenderedStack {
    /// The stack.
    pub name: StackName,
    /// Its stack type.
    pub kind: String,
    /// The module that rendered it.
    pub module: ModuleRef,
    /// The template as compact JSON, keys sorted: what deploys send and
    /// policies read. Only this text is held: a parsed template takes about
    /// thirteen times its memory (every small object is a B-tree node; half
    /// a gigabyte at 10,000 stacks), and the pretty text about twice.
    /// [`RenderedStack::template`] parses it and [`RenderedStack::text`]
    /// lays it out when a reader needs either.
    compact: Arc<str>,
    /// sha256 of the pretty text ([`RenderedStack::text`]).
    pub sha256: String,
    /// Length of the pretty text, in bytes.
    pub text_bytes: usize,
    /// What it exports.
    pub exports: Vec<Export>,
    /// What it imports.
    pub imports: Vec<Import>,
    /// `depends_on` from the file.
    pub depends_on: Vec<StackName>,
    /// What the module declared about its resources, by logical id
    /// (`strata:module@0.2.0`; empty for a 0.1.x module). Every id is a
    /// resource of `template`. The plan's risks read these before the host's
    /// own tables.
    pub resource_traits: BTreeMap<String, ResourceTraits>,
    /// Number of resources in the template, counted when it was checked.
    resource_count: usize,
}

impl RenderedStack {
    /// The template as compact JSON, keys sorted (what deploys send and
    /// policies read).
    pub fn compact(&self) -> &str {
        &self.compact
    }

    /// [`RenderedStack::compact`], shared rather than copied.
    pub fn shared_compact(&self) -> Arc<str> {
        Arc::clone(&self.compact)
    }

    /// The template as written to disk: pretty JSON, keys sorted, a final
    /// newline; what `sha256` is computed over.
    pub fn text(&self) -> String {
        pretty_text(&self.compact)
    }

    /// The template, parsed (keys sorted: the canonical form). Each call
    /// parses again: bind it once where it is read repeatedly.
    pub fn template(&self) -> Value {
        // The text was written from a `Value` by serde_json, so it parses
        // back to that value; `Null` only if that ever stopped being true.
        serde_json::from_str(&self.compact).unwrap_or(Value::Null)
    }

    /// Number of resources in the template.
    pub fn resource_count(&self) -> usize {
        self.resource_count
    }
}

/// Identity of the module that rendered a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleRef {
    /// Stack type name.
    pub name: String,
    /// The module's version.
    pub version: String,
    /// sha256 of the component.
    pub sha256: String,
    /// `built in` or the path declared in `strata.toml`.
    pub source: String,
}

/// An output a stack exports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Export {
    /// Output name, e.g. `vpc-id`.
    pub output: String,
    /// CloudFormation export name.
    pub name: String,
}

/// Another stack's output a stack imports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Import {
    /// The exporting stack.
    pub stack: String,
    /// Output name.
    pub output: String,
    /// CloudFormation export name.
    pub name: String,
}

/// Every stack of an environment, rendered and ordered.
#[derive(Debug, Clone)]
pub struct RenderedEnvironment {
    /// The environment.
    pub environment: Environment,
    /// Rendered stacks, shared: the two sides of a plan hold one copy of
    /// each stack that did not change.
    pub stacks: BTreeMap<StackName, Arc<RenderedStack>>,
    /// Who needs whom.
    pub graph: Graph,
    /// Deploy order.
    pub waves: Vec<Wave>,
}

impl RenderedEnvironment {
    /// CloudFormation stack name of `stack`: `{project}-{environment}-{stack}`.
    pub fn stack_name(&self, stack: &str) -> String {
        format!(
            "{}-{}-{stack}",
            self.environment.project, self.environment.environment
        )
    }
}

/// The result of a render: every stack that rendered, whether everything
/// passed, and every diagnostic (warnings too).
///
/// The environment is held once: [`Outcome::rendered`] lends it when no
/// error was found (a copy would double every template at 10,000 stacks).
#[derive(Debug)]
pub struct Outcome {
    /// Whether no error was found: then `partial` is the whole environment.
    pub ok: bool,
    /// Every stack that rendered, ordered as far as the graph allows (no
    /// waves when it has a cycle), even when cross-stack checks failed: a
    /// plan reports a missing export as a plan error rather than failing.
    pub partial: RenderedEnvironment,
    /// The stacks whose module rendered and passed the per-stack checks,
    /// even when others failed: one bad stack never stops the rest.
    pub rendered_stacks: Vec<StackName>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// The schema problems of every stack of a file that did not validate as a
/// whole (a missing tag, a bad `region`): its stacks' tables are still
/// checked against their modules' schemas, so a user sees every problem in
/// one run rather than the file's first, then the stacks'. Stacks whose
/// name or type is itself wrong are left to the file's own errors.
pub fn schema_problems_of_invalid_file(
    host: &Host,
    registry: &Registry,
    source: &Arc<crate::config::SourceFile>,
) -> Vec<Diagnostic> {
    let (Some(file), _) = crate::config::raw::parse(source) else {
        return Vec::new();
    };
    let mut diagnostics = Vec::new();
    for raw in &file.stacks {
        let (Ok(name), Some(kind)) = (StackName::parse(raw.name.get_ref()), &raw.kind) else {
            continue;
        };
        let Some(pinned) = registry.get(kind.get_ref()) else {
            continue;
        };
        let Ok(module) = host.load(kind.get_ref(), &pinned.bytes, &pinned.sha256) else {
            continue;
        };
        let Ok(schema) = serde_json::from_str::<Value>(&module.info.config_schema) else {
            continue;
        };
        let stack = Stack {
            name,
            kind: kind.get_ref().clone(),
            depends_on: Vec::new(),
            config: raw.config.clone(),
            spans: raw.spans.clone(),
            header: raw.span.clone(),
            kind_span: kind.span(),
        };
        let label = format!("{}@{}", module.info.name, module.info.version);
        diagnostics.extend(
            schema::validate(&schema, &stack.config)
                .into_iter()
                .map(|e| schema_diagnostic(source, &stack, &label, e)),
        );
    }
    diagnostics
}

/// A schema failure of `stack`'s table as a diagnostic at its key.
fn schema_diagnostic(
    source: &Arc<crate::config::SourceFile>,
    stack: &Stack,
    label: &str,
    e: schema::SchemaError,
) -> Diagnostic {
    let (span, text) = match e.problem {
        Problem::UnknownKey => (stack.key_span_of(&e.path), "unknown key".to_owned()),
        Problem::MissingKey => (stack.header.clone(), format!("`{}` missing here", e.path)),
        Problem::BadValue => (
            stack.span_of(&e.path),
            format!("checked by `{label}`'s schema"),
        ),
    };
    Diagnostic::error(format!("stack `{}`: {}", stack.name, e.message))
        .at(source, span, text)
        .with_help_opt(e.help)
}

/// Render every stack of `environment` with the modules of `registry`.
pub fn render_environment(host: &Host, registry: &Registry, environment: &Environment) -> Outcome {
    render(host, registry, environment, None)
}

/// [`render_environment`], taking from `beside` (the other side of a plan)
/// every stack whose inputs are the same: its type, module (sha256 and
/// source), context, table and `depends_on`. A render is a pure function of
/// those, so the stack is shared rather than checked and held twice; a
/// one-line change in 10,000 stacks renders and holds one stack more, not
/// 10,000. Warnings of a shared stack are not repeated.
pub fn render_environment_beside(
    host: &Host,
    registry: &Registry,
    environment: &Environment,
    beside: &RenderedEnvironment,
) -> Outcome {
    render(host, registry, environment, Some(beside))
}

/// `beside`'s render of `stack`, if its inputs are those `stack` has here.
fn same_render(
    registry: &Registry,
    environment: &Environment,
    stack: &Stack,
    beside: &RenderedEnvironment,
) -> Option<Arc<RenderedStack>> {
    let theirs = beside.stacks.get(&stack.name)?;
    let their_stack = beside.environment.stacks.get(&stack.name)?;
    let pinned = registry.get(&stack.kind)?;
    let same = theirs.kind == stack.kind
        && theirs.module.sha256 == pinned.sha256
        && theirs.module.source == pinned.origin.to_string()
        && theirs.depends_on == stack.depends_on
        && their_stack.config == stack.config
        && context(&beside.environment, their_stack) == context(environment, stack);
    same.then(|| Arc::clone(theirs))
}

fn render(
    host: &Host,
    registry: &Registry,
    environment: &Environment,
    beside: Option<&RenderedEnvironment>,
) -> Outcome {
    let mut diagnostics = Vec::new();

    // Load each module once (in parallel), then render every stack.
    let kinds: BTreeSet<&str> = environment
        .stacks
        .values()
        .map(|s| s.kind.as_str())
        .collect();
    let modules: BTreeMap<&str, Result<Loaded, ModuleError>> = kinds
        .into_par_iter()
        .filter_map(|kind| {
            let source = registry.get(kind)?;
            let loaded = host
                .load(kind, &source.bytes, &source.sha256)
                .and_then(|module| {
                    // A pin must name the module it pins.
                    if module.info.name == kind {
                        // Its schema is parsed once per type, not per stack.
                        let schema = serde_json::from_str(&module.info.config_schema)
                            .map_err(|e| e.to_string());
                        Ok(Loaded { module, schema })
                    } else {
                        Err(ModuleError::Misnamed {
                            pinned: kind.to_owned(),
                            describes: module.info.name.clone(),
                        })
                    }
                });
            Some((kind, loaded))
        })
        .collect();

    let results: Vec<StackOutcome> = environment
        .stacks
        .par_iter()
        .map(|(name, stack)| {
            let mut warnings = Vec::new();
            let reused = beside.and_then(|b| same_render(registry, environment, stack, b));
            let result = match reused {
                Some(shared) => Ok(shared),
                None => render_stack(host, registry, &modules, environment, stack, &mut warnings)
                    .map(Arc::new),
            };
            StackOutcome {
                name: name.clone(),
                result,
                warnings,
            }
        })
        .collect();

    let mut stacks = BTreeMap::new();
    let mut failed = BTreeSet::new();
    for StackOutcome {
        name,
        result,
        warnings,
    } in results
    {
        diagnostics.extend(warnings);
        match result {
            Ok(rendered) => {
                stacks.insert(name, rendered);
            }
            Err(problems) => {
                if problems.iter().any(Diagnostic::is_error) {
                    failed.insert(name);
                }
                diagnostics.extend(problems);
            }
        }
    }

    check_imports(environment, &stacks, &failed, &mut diagnostics);
    let graph = build_graph(environment, &stacks);
    let waves = match graph.waves() {
        Ok(waves) => waves,
        Err(cycles) => {
            for cycle in cycles {
                diagnostics.push(cycle_diagnostic(environment, &cycle));
            }
            Vec::new()
        }
    };

    crate::config::diagnostic::sort(&mut diagnostics);
    let rendered_stacks = stacks.keys().cloned().collect();
    let ok = failed.is_empty() && !diagnostics.iter().any(Diagnostic::is_error);
    let partial = RenderedEnvironment {
        environment: environment.clone(),
        stacks,
        graph,
        waves,
    };
    Outcome {
        ok,
        partial,
        rendered_stacks,
        diagnostics,
    }
}

impl Outcome {
    /// The environment, when no error was found.
    pub fn rendered(&self) -> Option<&RenderedEnvironment> {
        self.ok.then_some(&self.partial)
    }

    /// The environment, when no error was found, taken out of the outcome.
    pub fn into_rendered(self) -> Option<RenderedEnvironment> {
        self.ok.then_some(self.partial)
    }
}

/// A stack type's module, loaded once per render of an environment, with its
/// config schema parsed (or why it is not JSON).
struct Loaded {
    module: Arc<Module>,
    schema: Result<Value, String>,
}

/// One stack's render: the checked result, and warnings either way.
struct StackOutcome {
    name: StackName,
    result: Result<Arc<RenderedStack>, Vec<Diagnostic>>,
    warnings: Vec<Diagnostic>,
}

/// What the module rendering `stack` is told about it.
pub fn context(environment: &Environment, stack: &Stack) -> RenderContext {
    RenderContext {
        project: environment.project.clone(),
        environment: environment.environment.clone(),
        stack: stack.name.to_string(),
        region: environment.region.clone(),
        account: environment.account.clone(),
        tags: environment
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn render_stack(
    host: &Host,
    registry: &Registry,
    modules: &BTreeMap<&str, Result<Loaded, ModuleError>>,
    environment: &Environment,
    stack: &Stack,
    warnings: &mut Vec<Diagnostic>,
) -> Result<RenderedStack, Vec<Diagnostic>> {
    let source = &environment.source;
    let Loaded { module, schema } = match modules.get(stack.kind.as_str()) {
        Some(Ok(loaded)) => loaded,
        Some(Err(error)) => return Err(vec![module_error(environment, stack, error)]),
        None => {
            return Err(vec![
                Diagnostic::error(format!("no module for stack type `{}`", stack.kind)).at(
                    source,
                    stack.kind_span.clone(),
                    "unknown type",
                ),
            ]);
        }
    };
    let label = format!("{}@{}", module.info.name, module.info.version);

    // The schema check, before any module code runs.
    let schema = schema.as_ref().map_err(|e| {
        vec![
            Diagnostic::error(format!(
                "module `{label}` describes its config with a schema that is not JSON: {e}"
            ))
            .at(source, stack.kind_span.clone(), "this module")
            .as_failure(),
        ]
    })?;
    let errors = schema::validate(schema, &stack.config);
    if !errors.is_empty() {
        let checks =
            checks_despite_schema_errors(host, module, environment, stack, &label, &errors);
        return Err(errors
            .into_iter()
            .map(|e| schema_diagnostic(source, stack, &label, e))
            .chain(checks)
            .collect());
    }

    let config = stack.config.to_string();
    let ctx = context(environment, stack);
    let raw = match host.render(module, &ctx, &config) {
        Ok(Ok(raw)) => raw,
        Ok(Err(rejections)) => {
            let mut diagnostics: Vec<Diagnostic> = rejections
                .into_iter()
                .map(|d| module_diagnostic(environment, stack, &label, d))
                .collect();
            if !diagnostics.iter().any(Diagnostic::is_error) {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "module `{label}` refused stack `{}` without saying why",
                        stack.name
                    ))
                    .at(source, stack.header.clone(), "")
                    .as_failure(),
                );
            }
            return Err(diagnostics);
        }
        Err(error) => return Err(vec![module_error(environment, stack, &error)]),
    };
    warnings.extend(
        raw.warnings
            .iter()
            .cloned()
            .map(|d| module_diagnostic(environment, stack, &label, d)),
    );

    let malformed = |reason: String| {
        vec![
            Diagnostic::error(format!(
                "module `{label}` returned a malformed template for stack `{}`: {reason}",
                stack.name
            ))
            .at(source, stack.header.clone(), "while rendering this stack")
            .with_help(
                "this is a bug in the module, not in your file: report it to the module's author",
            )
            .as_failure(),
        ]
    };
    let template: Value =
        serde_json::from_str(&raw.template).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let resource_count = match template.get("Resources").and_then(Value::as_object) {
        Some(resources) if !resources.is_empty() => {
            if let Some(stray) = raw
                .resource_traits
                .keys()
                .find(|id| !resources.contains_key(*id))
            {
                return Err(malformed(format!(
                    "it declares traits of resource `{stray}`, which is not in `Resources`"
                )));
            }
            resources.len()
        }
        Some(_) => {
            return Err(malformed(
                "`Resources` is empty; CloudFormation needs at least one resource".into(),
            ));
        }
        None => return Err(malformed("it has no `Resources` object".into())),
    };

    let prefix = format!("{}-{}-", environment.project, environment.environment);
    let own = format!("{prefix}{}-", stack.name);
    let exports = check_exports(&template, &raw.exports, &own).map_err(&malformed)?;
    let imports = check_import_values(&template, &raw.imports, &prefix).map_err(malformed)?;

    // CloudFormation takes templates inline up to 51,200 bytes, and from S3
    // up to 1 MB; deploys send the compact form. The pretty text is laid
    // out from it (serialising twice was a third of a plan's time), hashed
    // and dropped.
    let json = template.to_string();
    drop(template);
    let compact = json.len();
    if compact > TEMPLATE_URL_LIMIT {
        return Err(vec![
            Diagnostic::error(format!(
                "stack `{}` renders a {compact}-byte template, over CloudFormation's limit of {TEMPLATE_URL_LIMIT} bytes",
                stack.name
            ))
            .at(source, stack.header.clone(), "this stack")
            .with_help("split it into several stacks"),
        ]);
    }
    if compact > TEMPLATE_INLINE_LIMIT {
        warnings.push(
            Diagnostic::warning(format!(
                "stack `{}` renders a {compact}-byte template, over the {TEMPLATE_INLINE_LIMIT} bytes CloudFormation accepts inline",
                stack.name
            ))
            .at(source, stack.header.clone(), "this stack")
            .with_help("deploys upload it to the environment's template bucket and pass it by URL"),
        );
    }
    let text = pretty_text(&json);
    let sha256 = sha256_hex(text.as_bytes());
    let text_bytes = text.len();
    drop(text);
    let registry_source = registry
        .get(&stack.kind)
        .map(|m| m.origin.clone())
        .unwrap_or(Origin::Embedded);
    Ok(RenderedStack {
        name: stack.name.clone(),
        kind: stack.kind.clone(),
        module: ModuleRef {
            name: module.info.name.clone(),
            version: module.info.version.clone(),
            sha256: module.digest.clone(),
            source: registry_source.to_string(),
        },
        compact: json.into(),
        sha256,
        text_bytes,
        exports,
        imports,
        depends_on: stack.depends_on.clone(),
        resource_traits: raw.resource_traits,
        resource_count,
    })
}

/// Pretty JSON with sorted keys and a final newline: what `render` writes
/// and what template hashes are computed over.
pub fn canonical_text(template: &Value) -> String {
    let mut text = serde_json::to_string_pretty(template).unwrap_or_default();
    text.push('\n');
    text
}

/// `compact` (JSON as serde_json writes it compactly) laid out as
/// [`canonical_text`] lays out the same value: two-space indents, `": "`
/// after keys, `{}` and `[]` for empty containers, a final newline. Only
/// whitespace is added, outside strings, so this is a single pass over the
/// bytes rather than a parse and a second serialisation.
pub fn pretty_text(compact: &str) -> String {
    fn newline(out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }
    let bytes = compact.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        i += 1;
        if in_string {
            out.push(byte);
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            b'{' | b'[' => {
                let close = if byte == b'{' { b'}' } else { b']' };
                out.push(byte);
                if bytes.get(i) == Some(&close) {
                    out.push(close);
                    i += 1;
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(byte);
            }
            b',' => {
                out.push(byte);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(byte),
        }
    }
    out.push(b'\n');
    // Only ASCII was added to UTF-8, so it is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The template's `Export` names must be exactly the declared exports, each
/// `{own}{output}`.
fn check_exports(template: &Value, declared: &[String], own: &str) -> Result<Vec<Export>, String> {
    let mut found = BTreeSet::new();
    for (logical_id, output) in template
        .get("Outputs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(export) = output.get("Export") else {
            continue;
        };
        let Some(name) = export.get("Name").and_then(Value::as_str) else {
            return Err(format!(
                "output `{logical_id}` exports a computed name; export names must be literal strings"
            ));
        };
        let Some(output_name) = name.strip_prefix(own) else {
            return Err(format!(
                "output `{logical_id}` exports `{name}`, which is not named `{own}OUTPUT`: a stack may only export under its own name"
            ));
        };
        if !declared.iter().any(|d| d == output_name) {
            return Err(format!(
                "output `{logical_id}` exports `{name}`, but `{output_name}` is not among the declared exports"
            ));
        }
        if !found.insert(output_name.to_owned()) {
            return Err(format!("`{name}` is exported twice"));
        }
    }
    let mut exports = Vec::new();
    for output in declared {
        if !found.contains(output) {
            return Err(format!(
                "it declares the export `{output}`, but no output of the template exports `{own}{output}`"
            ));
        }
        exports.push(Export {
            output: output.clone(),
            name: format!("{own}{output}"),
        });
    }
    Ok(exports)
}

/// Every `Fn::ImportValue` in the template must be a literal naming a
/// declared import.
fn check_import_values(
    template: &Value,
    declared: &[ImportRef],
    prefix: &str,
) -> Result<Vec<Import>, String> {
    let names: BTreeMap<String, &ImportRef> = declared
        .iter()
        .map(|i| (format!("{prefix}{}-{}", i.stack, i.output), i))
        .collect();
    let mut problem = None;
    walk_import_values(template, &mut |value| {
        if problem.is_some() {
            return;
        }
        match value.as_str() {
            Some(name) if names.contains_key(name) => {}
            Some(name) => {
                problem = Some(format!(
                    "it imports `{name}` without declaring it; imports must be declared so stacks deploy in order"
                ));
            }
            None => problem = Some(
                "an `Fn::ImportValue` takes a computed name; import names must be literal strings"
                    .into(),
            ),
        }
    });
    if let Some(problem) = problem {
        return Err(problem);
    }
    let mut imports: Vec<Import> = names
        .into_iter()
        .map(|(name, i)| Import {
            stack: i.stack.clone(),
            output: i.output.clone(),
            name,
        })
        .collect();
    imports.sort();
    Ok(imports)
}

fn walk_import_values(value: &Value, visit: &mut impl FnMut(&Value)) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "Fn::ImportValue" {
                    visit(inner);
                } else {
                    walk_import_values(inner, visit);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| walk_import_values(item, visit)),
        _ => {}
    }
}

/// Every import must name a stack of the environment that exports the output.
fn check_imports(
    environment: &Environment,
    stacks: &BTreeMap<StackName, Arc<RenderedStack>>,
    failed: &BTreeSet<StackName>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let source = &environment.source;
    let names: Vec<&str> = environment.stacks.keys().map(StackName::as_str).collect();
    for (name, rendered) in stacks {
        let Some(stack) = environment.stacks.get(name) else {
            continue;
        };
        let mut by_target: BTreeMap<&str, Vec<&Import>> = BTreeMap::new();
        for import in &rendered.imports {
            by_target
                .entry(import.stack.as_str())
                .or_default()
                .push(import);
        }
        for (target_name, imports) in by_target {
            // Point at the `{ import = "STACK.OUTPUT" }` that asks for it, else
            // at the key whose value names the other stack, else the header.
            let import_span = |output: &str| {
                stack
                    .spans
                    .paths_with_string(&stack.config, &format!("{target_name}.{output}"))
                    .next()
                    .map(|path| stack.span_of(path))
            };
            let span = imports
                .iter()
                .find_map(|i| import_span(&i.output))
                .or_else(|| {
                    stack
                        .spans
                        .paths_with_string(&stack.config, target_name)
                        .next()
                        .map(|path| stack.span_of(path))
                })
                .unwrap_or_else(|| stack.header.clone());
            match stacks.get(target_name) {
                None if failed.contains(target_name) => {}
                None => {
                    let outputs: Vec<String> =
                        imports.iter().map(|i| format!("`{}`", i.output)).collect();
                    let others: Vec<&str> = names
                        .iter()
                        .copied()
                        .filter(|n| *n != name.as_str())
                        .collect();
                    diagnostics.push(
                        Diagnostic::error(format!(
                            "stack `{name}` imports {} from stack `{target_name}`, but there is no stack `{target_name}`",
                            outputs.join(", ")
                        ))
                        .at(source, span, format!("no stack named `{target_name}`"))
                        .with_help_opt(suggest::help_for(target_name, &others, "stacks in this file")),
                    );
                }
                Some(target) => {
                    for import in imports {
                        if target.exports.iter().any(|e| e.output == import.output) {
                            continue;
                        }
                        let outputs: Vec<&str> =
                            target.exports.iter().map(|e| e.output.as_str()).collect();
                        diagnostics.push(
                            Diagnostic::error(format!(
                                "stack `{name}` imports `{}` from stack `{target_name}`, which does not export it",
                                import.output
                            ))
                            .at(source, import_span(&import.output).unwrap_or_else(|| span.clone()), format!("`{target_name}` exports no `{}`", import.output))
                            .with_note(format!("export `{}` would not be found at deploy time", import.name))
                            .with_help_opt(suggest::help_for(&import.output, &outputs, &format!("`{target_name}` exports"))),
                        );
                    }
                }
            }
        }
    }
}

fn build_graph(
    environment: &Environment,
    stacks: &BTreeMap<StackName, Arc<RenderedStack>>,
) -> Graph {
    let mut graph = Graph::new(environment.stacks.keys());
    for (name, stack) in &environment.stacks {
        for dependency in &stack.depends_on {
            graph.add(name, dependency, Reason::DependsOn);
        }
    }
    for (name, rendered) in stacks {
        let mut by_stack: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for import in &rendered.imports {
            by_stack
                .entry(import.stack.as_str())
                .or_default()
                .push(import.output.clone());
        }
        for (target, outputs) in by_stack {
            if let Ok(target) = StackName::parse(target) {
                graph.add(name, &target, Reason::Imports { outputs });
            }
        }
    }
    graph
}

fn cycle_diagnostic(environment: &Environment, cycle: &crate::graph::Cycle) -> Diagnostic {
    // A cycle through thousands of stacks is spelled out as far as a
    // screen holds, then counted.
    let count = cycle.steps.len();
    let message = if count <= MAX_CYCLE_SHOWN {
        format!("dependency cycle: {cycle}")
    } else {
        let shown: String = cycle.steps[..MAX_CYCLE_SHOWN]
            .iter()
            .map(|(stack, _)| format!("`{stack}` → "))
            .collect();
        let first = &cycle.steps[0].0;
        format!(
            "dependency cycle through {count} stacks: {shown}… and {} more → `{first}`",
            count - MAX_CYCLE_SHOWN
        )
    };
    let mut diagnostic = Diagnostic::error(message);
    let explained = cycle.explain();
    for ((stack, _), why) in cycle.steps.iter().zip(explained).take(MAX_CYCLE_SHOWN) {
        if let Some(s) = environment.stacks.get(stack.as_str()) {
            diagnostic = diagnostic.at(&environment.source, s.header.clone(), why);
        }
    }
    diagnostic.with_help("stacks cannot need each other: move the shared resource into one of them, or into a stack both can import from")
}

/// The most steps of one dependency cycle a diagnostic spells out.
const MAX_CYCLE_SHOWN: usize = 12;

/// The module's own checks of a table that failed its schema, so the user
/// sees both at once instead of fixing the schema errors first. The module
/// renders the table without what the schema rejected (an unknown key or a
/// bad value goes; a list with a bad item goes whole, so the other items keep
/// their numbers). Of its errors, those about a rejected or missing key (or
/// a table holding one, or a key inside one) are dropped: the schema error
/// already says it, and the module could not check it. A template, warnings
/// or a trap are ignored: the stack has failed either way.
fn checks_despite_schema_errors(
    host: &Host,
    module: &Module,
    environment: &Environment,
    stack: &Stack,
    label: &str,
    errors: &[schema::SchemaError],
) -> Vec<Diagnostic> {
    let mut config = stack.config.clone();
    let mut rejected = Vec::new();
    for error in errors {
        match error.problem {
            Problem::MissingKey => rejected.push(error.path.clone()),
            Problem::UnknownKey | Problem::BadValue => {
                rejected.push(remove_value(&mut config, &error.path));
            }
        }
    }
    if rejected.iter().any(String::is_empty) {
        // The table itself is wrong: nothing is left to check.
        return Vec::new();
    }
    let ctx = context(environment, stack);
    let Ok(Err(diagnostics)) = host.render(module, &ctx, &config.to_string()) else {
        return Vec::new();
    };
    let about = |path: &str, key: &str| {
        path == key
            || path.is_empty()
            || path.starts_with(&format!("{key}."))
            || key.starts_with(&format!("{path}."))
    };
    diagnostics
        .into_iter()
        .filter(|d| d.severity == ModuleSeverity::Error)
        .filter(|d| !rejected.iter().any(|key| about(&d.path, key)))
        .map(|d| module_diagnostic(environment, stack, label, d))
        .collect()
}

/// Remove the value at dotted `path` from `config`: the key from the
/// deepest table on the path, taking a list along with its items. Returns
/// the path of what was removed (`""` when no table holds it).
fn remove_value(config: &mut Value, path: &str) -> String {
    let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    // The deepest table on the path, as the number of segments leading to it.
    let mut deepest = None;
    let mut current = &*config;
    for (depth, segment) in segments.iter().enumerate() {
        let next = match current {
            Value::Object(map) => {
                deepest = Some(depth);
                map.get(*segment)
            }
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    let Some(depth) = deepest else {
        return String::new();
    };
    let mut table = config;
    for segment in &segments[..depth] {
        let next = match table {
            Value::Object(map) => map.get_mut(*segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        // Walked above, so always there.
        let Some(next) = next else {
            return String::new();
        };
        table = next;
    }
    if let Value::Object(map) = table {
        map.remove(segments[depth]);
    }
    segments[..=depth].join(".")
}

fn module_diagnostic(
    environment: &Environment,
    stack: &Stack,
    label: &str,
    d: crate::host::ModuleDiagnostic,
) -> Diagnostic {
    let span = stack.span_of(&d.path);
    let base = match d.severity {
        ModuleSeverity::Error => {
            Diagnostic::error(format!("stack `{}`: {}", stack.name, d.message))
        }
        ModuleSeverity::Warning => {
            Diagnostic::warning(format!("stack `{}`: {}", stack.name, d.message))
        }
    };
    base.at(
        &environment.source,
        span,
        format!("reported by module `{label}`"),
    )
    .with_help_opt(d.help)
}

fn module_error(environment: &Environment, stack: &Stack, error: &ModuleError) -> Diagnostic {
    let source = &environment.source;
    let mut diagnostic = Diagnostic::error(error.to_string()).as_failure();
    match error {
        ModuleError::Trapped { reason, log, .. } => {
            diagnostic = diagnostic.at(source, stack.header.clone(), "while rendering this stack");
            if !log.is_empty() {
                diagnostic = diagnostic.with_note(format!("module log:\n  {}", log.join("\n  ")));
            }
            diagnostic = diagnostic.with_help(match reason {
                TrapReason::TimedOut(_) => "a render must finish within the sandbox's time limit (`[sandbox] timeout_ms` in strata.toml); this is most likely a bug in the module".to_owned(),
                TrapReason::OutOfMemory { .. } => "raise `[sandbox] memory_mib` in strata.toml if the module really needs more; otherwise report it to the module's author".to_owned(),
                TrapReason::ForbiddenImport(_) => "modules render from their config alone; report this to the module's author".to_owned(),
                TrapReason::Panicked(_) | TrapReason::Other(_) | TrapReason::StackOverflow => "this is a bug in the module, not in your file: report it to the module's author".to_owned(),
            });
        }
        ModuleError::OutputTooLarge { .. } => {
            diagnostic = diagnostic
                .at(source, stack.header.clone(), "while rendering this stack")
                .with_help("raise `[sandbox] output_mib` in strata.toml if the template is meant to be this large");
        }
        ModuleError::IncompatibleWit { .. } => {
            diagnostic = diagnostic
                .at(source, stack.kind_span.clone(), "this stack type")
                .with_help("rebuild the module with a strata-module-sdk that matches this strata, or upgrade strata");
        }
        ModuleError::Misnamed { describes, .. } => {
            diagnostic = diagnostic
                .at(source, stack.kind_span.clone(), "this stack type")
                .with_help(format!(
                    "the module renders `{describes}` stacks: pin it as `[modules.{describes}]` in strata.toml and use `type = \"{describes}\"`, or pin the module that provides this type"
                ));
        }
        ModuleError::BadSchema { .. } => {
            diagnostic = diagnostic
                .at(source, stack.kind_span.clone(), "this stack type")
                .with_help("Strata checks every stack's table against the module's schema first; the module's author must fix it (`strata module check` shows where)");
        }
        ModuleError::Invalid { .. } | ModuleError::Malformed { .. } => {
            diagnostic = diagnostic.at(source, stack.kind_span.clone(), "this stack type");
        }
    }
    diagnostic
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{canonical_text, pretty_text, remove_value};

    #[test]
    fn lays_out_compact_json_exactly_as_serde_json_pretty_prints_it() {
        let templates = [
            json!({}),
            json!([]),
            json!("just a string, {with: [brackets]}"),
            json!(12.5),
            json!({ "Resources": {}, "List": [] }),
            json!({
                "Resources": { "Q": { "Type": "AWS::SQS::Queue", "Properties": { "Tags": [1, 2.5, null, true, -3e-7, u64::MAX] } } },
                "Description": "spaces , \"quoted\" : and \\ slashes\n\ttabs {not: json} ünïcode \u{1} \\\"",
                "Nested": [[], {}, [{ "a b": " ", "{}": "[]" }], [[[]]], {"": {"": {}}}],
                "Ends with backslash\\": "\\",
            }),
        ];
        for template in templates {
            assert_eq!(
                pretty_text(&template.to_string()),
                canonical_text(&template)
            );
        }
    }

    fn config() -> Value {
        json!({
            "port": "1",
            "nested": { "size": "x" },
            "subnets": [{ "cidr": "a" }, { "cidr": "b" }],
        })
    }

    #[test]
    fn removes_what_the_schema_rejected_without_renumbering_lists() {
        let subnets = json!([{ "cidr": "a" }, { "cidr": "b" }]);
        let cases = [
            (
                "port",
                "port",
                json!({ "nested": { "size": "x" }, "subnets": subnets }),
            ),
            (
                "nested.size",
                "nested.size",
                json!({ "port": "1", "nested": {}, "subnets": subnets }),
            ),
            (
                "subnets.1",
                "subnets",
                json!({ "port": "1", "nested": { "size": "x" } }),
            ),
            (
                "subnets.1.cidr",
                "subnets.1.cidr",
                json!({ "port": "1", "nested": { "size": "x" }, "subnets": [{ "cidr": "a" }, {}] }),
            ),
            ("", "", config()),
        ];
        for (path, removed, left) in cases {
            let mut config = config();
            assert_eq!(remove_value(&mut config, path), removed, "{path}");
            assert_eq!(config, left, "{path}");
        }
    }
}

//! `strata graph`: who needs whom, and the deploy waves.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::json;

use super::{Context, Exit};
use crate::render::RenderedEnvironment;

/// Output formats of `strata graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Waves and each stack's dependencies, for people.
    Text,
    /// The same, for programs.
    Json,
    /// Graphviz, arrows in deploy order.
    Dot,
}

/// Arguments of `strata graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (`environments/NAME.toml`).
    #[arg(long = "env", value_name = "NAME", value_parser = super::environment_name)]
    pub env: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Run `strata graph`.
pub fn run(context: &Context, args: &Args) -> Exit {
    let Ok(host) = context.host() else {
        return Exit::Failed;
    };
    let rendered = match context.rendered(
        &host,
        &args.env,
        &format!("environment `{}` is invalid", args.env),
    ) {
        Ok(rendered) => rendered,
        Err(exit) => return exit,
    };
    let text = match args.format {
        Format::Text => text(&rendered),
        Format::Json => {
            let mut out = serde_json::to_string_pretty(&json_value(&rendered)).unwrap_or_default();
            out.push('\n');
            out
        }
        Format::Dot => dot(&rendered),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Exit::Ok
}

/// The graph as text: one block per wave, each stack with what it needs.
pub fn text(rendered: &RenderedEnvironment) -> String {
    let environment = &rendered.environment;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, {}): {} stacks in {} waves",
        environment.name,
        environment.environment,
        environment.region,
        rendered.stacks.len(),
        rendered.waves.len()
    );
    for wave in &rendered.waves {
        let _ = writeln!(out, "\nwave {}", wave.number);
        let width = wave
            .stacks
            .iter()
            .map(|s| s.as_str().len())
            .max()
            .unwrap_or(0);
        for stack in &wave.stacks {
            let kind = rendered
                .stacks
                .get(stack.as_str())
                .map_or("", |s| s.kind.as_str());
            let needs: Vec<String> = rendered
                .graph
                .dependencies(stack.as_str())
                .map(|(dependency, reasons)| {
                    let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                    format!("{dependency} ({})", why.join("; "))
                })
                .collect();
            let label = if kind == stack.as_str() {
                String::new()
            } else {
                format!(" [{kind}]")
            };
            if needs.is_empty() {
                let _ = writeln!(out, "  {stack}{label}");
            } else {
                let _ = writeln!(
                    out,
                    "  {:width$}{label}  ← {}",
                    stack.as_str(),
                    needs.join(", ")
                );
            }
        }
    }
    out
}

/// The graph as JSON.
pub fn json_value(rendered: &RenderedEnvironment) -> serde_json::Value {
    let stacks: serde_json::Map<String, serde_json::Value> = rendered
        .stacks
        .iter()
        .map(|(name, stack)| {
            let wave = rendered
                .waves
                .iter()
                .find(|w| w.stacks.contains(name))
                .map_or(0, |w| w.number);
            let needs: Vec<serde_json::Value> = rendered
                .graph
                .dependencies(name.as_str())
                .map(|(dependency, reasons)| json!({ "stack": dependency, "reasons": reasons }))
                .collect();
            (
                name.to_string(),
                json!({ "type": stack.kind, "wave": wave, "needs": needs }),
            )
        })
        .collect();
    json!({
        "environment": rendered.environment.name,
        "name": rendered.environment.environment,
        "waves": rendered.waves.iter().map(|w| &w.stacks).collect::<Vec<_>>(),
        "stacks": stacks,
    })
}

/// The graph as Graphviz: an arrow from each dependency to what needs it
/// (deploy order), stacks of one wave on one rank.
pub fn dot(rendered: &RenderedEnvironment) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", rendered.environment.name);
    let _ = writeln!(out, "  rankdir=LR;\n  node [shape=box, style=rounded];");
    for wave in &rendered.waves {
        let names: Vec<String> = wave.stacks.iter().map(|s| format!("\"{s}\"")).collect();
        let _ = writeln!(
            out,
            "  {{ rank=same; {}; }} // wave {}",
            names.join("; "),
            wave.number
        );
    }
    for stack in rendered.graph.stacks() {
        for (dependency, reasons) in rendered.graph.dependencies(stack.as_str()) {
            let label: Vec<String> = reasons
                .iter()
                .map(|r| match r {
                    crate::graph::Reason::Imports { outputs } => outputs.join("\\n"),
                    crate::graph::Reason::DependsOn => "depends_on".to_owned(),
                })
                .collect();
            let _ = writeln!(
                out,
                "  \"{dependency}\" -> \"{stack}\" [label=\"{}\"];",
                label.join("\\n")
            );
        }
    }
    out.push_str("}\n");
    out
}

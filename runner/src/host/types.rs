//! What goes into and comes out of a module call, in Strata's own types (no
//! wasmtime types cross this boundary).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the host tells a module about the stack it renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderContext {
    /// Naming prefix.
    pub project: String,
    /// Environment as written in resource names.
    pub environment: String,
    /// The stack's name.
    pub stack: String,
    /// AWS region.
    pub region: String,
    /// AWS account id, when pinned.
    pub account: Option<String>,
    /// Tags, sorted by key.
    pub tags: Vec<(String, String)>,
}

/// A module's description of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    /// Stack type name.
    pub name: String,
    /// Semver version.
    pub version: String,
    /// One line.
    pub description: String,
    /// JSON Schema of the stack's table.
    pub config_schema: String,
}

/// Error or warning, as a module reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModuleSeverity {
    /// The stack cannot render.
    Error,
    /// Worth a look.
    Warning,
}

/// A module's complaint about a key of the stack's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleDiagnostic {
    /// Error or warning.
    pub severity: ModuleSeverity,
    /// Dotted key path.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

/// Another stack's output a template imports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ImportRef {
    /// The exporting stack.
    pub stack: String,
    /// The output name.
    pub output: String,
}

/// What a module declares about one of its resources
/// (`strata:module@0.2.0`'s `resource-traits`, without the logical id, which
/// keys the map it sits in). 0.1.x modules declare nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTraits {
    /// The resource holds data: deleting or replacing it loses that data.
    pub stateful: bool,
    /// Top-level properties whose change replaces the resource, sorted.
    pub replaced_by: Vec<String>,
}

/// A module's successful answer, unchecked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawRender {
    /// Template JSON text.
    pub template: String,
    /// Declared export output names.
    pub exports: Vec<String>,
    /// Declared imports.
    pub imports: Vec<ImportRef>,
    /// Warnings.
    pub warnings: Vec<ModuleDiagnostic>,
    /// Lines the module logged.
    pub log: Vec<String>,
    /// What the module declared about its resources, by logical id (empty
    /// for a 0.1.x module). Declarations of one id are merged.
    pub resource_traits: BTreeMap<String, ResourceTraits>,
}

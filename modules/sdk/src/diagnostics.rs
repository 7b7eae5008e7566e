//! Problems a module reports about a stack's table.

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The stack cannot render.
    Error,
    /// The stack renders, but the user should look.
    Warning,
}

/// A problem with one key of the stack's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Dotted key path inside the stack's table (`""` = the whole stack),
    /// e.g. `subnets.0.cidr`. The host maps it to file:line:col.
    pub path: String,
    /// What is wrong, lowercase, the offending value in backticks.
    pub message: String,
    /// What to do instead.
    pub help: Option<String>,
}

impl Diagnostic {
    /// Add a `help:` line.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }
}

/// A list of diagnostics, collected so the user sees every problem at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record an error at `path`; chain `.help(..)` to add a hint.
    pub fn error(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Error, path.into(), message.into())
    }

    /// Record a warning at `path`.
    pub fn warning(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Warning, path.into(), message.into())
    }

    fn push(&mut self, severity: Severity, path: String, message: String) -> &mut Diagnostic {
        self.0.push(Diagnostic {
            severity,
            path,
            message,
            help: None,
        });
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    /// True when any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// `Err(self)` when any error was recorded, so `diagnostics.check()?`
    /// stops a render after validating every field.
    pub fn check(&mut self) -> Result<(), Diagnostics> {
        if self.has_errors() {
            Err(std::mem::take(self))
        } else {
            Ok(())
        }
    }

    /// The diagnostics, in the order recorded.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Consume the list.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Self(vec![diagnostic])
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<T: IntoIterator<Item = Diagnostic>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

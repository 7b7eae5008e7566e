//! Diagnostics: what went wrong, where in which file, and what to do.
//!
//! Every user-facing problem (a TOML error, a schema violation, a module's
//! complaint, a missing export) becomes a [`Diagnostic`]. They are collected,
//! never thrown one at a time, so a user sees every problem in one run.
//! [`Report`] renders them with source snippets (miette's graphical handler).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A file a diagnostic can point into. Kept whole for snippets.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Path as shown to the user (relative to the repo root when possible).
    pub name: String,
    /// The full text.
    pub text: String,
}

impl SourceFile {
    /// A source named `name` holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            text: text.into(),
        })
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        (line, column)
    }

    /// `name:line:col` of a byte offset.
    pub fn location(&self, offset: usize) -> String {
        let (line, column) = self.line_col(offset);
        format!("{}:{line}:{column}", self.name)
    }
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the operation.
    Error,
    /// Worth reading; does not stop anything.
    Warning,
}

/// Whose fault a problem is, which picks the exit code: bad input (2) or a
/// failed operation (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// Something the user wrote is wrong.
    #[default]
    Input,
    /// Something went wrong doing the work (a module trapped, a file could
    /// not be written, a cloud call failed).
    Failure,
}

/// A span of a [`SourceFile`] with a short text under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Byte range in the file.
    pub span: Range<usize>,
    /// What is wrong there (may be empty).
    pub text: String,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline: lowercase, the subject in backticks.
    pub message: String,
    /// The file the labels point into, if any.
    pub source: Option<Arc<SourceFile>>,
    /// Highlighted spans; the first is the primary location.
    pub labels: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
    /// Extra lines (the module's log before a trap, both digests, ...).
    pub notes: Vec<String>,
    /// Bad input or a failed operation.
    pub kind: Kind,
}

impl Diagnostic {
    /// An error with no location yet.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    /// A warning with no location yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    fn new(severity: Severity, message: impl Into<String>) -> Self {
        Self {
            severity,
            message: message.into(),
            source: None,
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
            kind: Kind::Input,
        }
    }

    /// Point at `span` of `source`, with `text` under it.
    pub fn at(
        mut self,
        source: &Arc<SourceFile>,
        span: Range<usize>,
        text: impl Into<String>,
    ) -> Self {
        self.source = Some(Arc::clone(source));
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Add a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Add a `help:` line when there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Add a note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Mark as a failed operation rather than bad input.
    pub fn as_failure(mut self) -> Self {
        self.kind = Kind::Failure;
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` of the primary label, if any.
    pub fn location(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        let label = self.labels.first()?;
        Some(source.location(label.span.start))
    }

    fn sort_key(&self) -> (Option<&str>, usize) {
        (
            self.source.as_ref().map(|s| s.name.as_str()),
            self.labels.first().map_or(usize::MAX, |l| l.span.start),
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Sort diagnostics by file and position, errors and warnings interleaved as
/// they appear in the file.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// How to draw diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unicode boxes, no colour: logs, files, tests, `NO_COLOR`.
    Plain,
    /// Unicode boxes with ANSI colour: a terminal.
    Colour,
}

impl Style {
    /// Colour when `stderr` is a terminal and `NO_COLOR` is unset.
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if !no_color && std::io::stderr().is_terminal() {
            Self::Colour
        } else {
            Self::Plain
        }
    }
}

/// How many diagnostics [`Report::render_all`] shows before it counts the
/// rest: 10,000 broken stacks print a screenful and a count, not 10,000
/// snippets.
pub const MAX_SHOWN: usize = 30;

/// Renders diagnostics as text with source snippets.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    style: Style,
    width: usize,
    limit: usize,
}

impl Report {
    /// A renderer in `style`, wrapping at 100 columns, showing at most
    /// [`MAX_SHOWN`] diagnostics of a list.
    pub fn new(style: Style) -> Self {
        Self {
            style,
            width: 100,
            limit: MAX_SHOWN,
        }
    }

    /// The same renderer, showing at most `limit` diagnostics of a list.
    pub fn with_limit(self, limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            ..self
        }
    }

    /// The diagnostic as text, ending in a newline.
    pub fn render(&self, diagnostic: &Diagnostic) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let mut theme = match self.style {
            Style::Plain => GraphicalTheme::unicode_nocolor(),
            Style::Colour => GraphicalTheme::unicode(),
        };
        // Say it in words: a `×` alone does not read as "error" in a log.
        theme.characters.error = "error:".into();
        theme.characters.warning = "warning:".into();
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(self.width)
            .with_links(false);
        let adapter = MietteAdapter::new(diagnostic);
        let mut out = String::new();
        if handler.render_report(&mut out, &adapter).is_err() {
            out = format!(
                "{}: {}\n",
                severity_word(diagnostic.severity),
                diagnostic.message
            );
        }
        out
    }

    /// All diagnostics, separated by blank lines; past the limit, errors
    /// before warnings (each kept in its place), then a line counting the
    /// rest.
    pub fn render_all<'a>(&self, diagnostics: impl IntoIterator<Item = &'a Diagnostic>) -> String {
        let diagnostics: Vec<&Diagnostic> = diagnostics.into_iter().collect();
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings_shown = self.limit.saturating_sub(errors);
        let mut warnings_seen = 0;
        let mut errors_seen = 0;
        let shown: Vec<&Diagnostic> = diagnostics
            .iter()
            .copied()
            .filter(|d| {
                if d.is_error() {
                    errors_seen += 1;
                    errors_seen <= self.limit
                } else {
                    warnings_seen += 1;
                    warnings_seen <= warnings_shown
                }
            })
            .collect();
        let mut out = shown
            .iter()
            .map(|d| self.render(d))
            .collect::<Vec<_>>()
            .join("\n");
        let hidden_errors = errors - errors_seen.min(self.limit);
        let hidden_warnings = (diagnostics.len() - errors) - warnings_seen.min(warnings_shown);
        if hidden_errors + hidden_warnings > 0 {
            let count = |n: usize, what: &str| match n {
                0 => None,
                1 => Some(format!("1 more {what}")),
                n => Some(format!("{n} more {what}s")),
            };
            let more: Vec<String> = [
                count(hidden_errors, "error"),
                count(hidden_warnings, "warning"),
            ]
            .into_iter()
            .flatten()
            .collect();
            out.push_str(&format!(
                "\n  … and {}, not shown ({} of {} shown)\n  help: fix these and run again to see the rest\n",
                more.join(" and "),
                shown.len(),
                diagnostics.len()
            ));
        }
        out
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The longest line a snippet shows; longer ones get a location instead.
const MAX_SNIPPET_LINE: usize = 400;

/// Length of the longest line a snippet of `span` would print (the lines
/// it covers, and one either side).
fn longest_line_around(text: &str, span: Range<usize>) -> usize {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let from = text[..start]
        .rfind('\n')
        .and_then(|nl| text[..nl].rfind('\n'))
        .map_or(0, |nl| nl + 1);
    let to = text[end..]
        .find('\n')
        .and_then(|nl| text[end + nl + 1..].find('\n').map(|n2| end + nl + 1 + n2))
        .unwrap_or(text.len());
    text.get(from..to)
        .unwrap_or_default()
        .split('\n')
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// A source file's text lent to miette, shared rather than copied: a copy
/// per diagnostic was a megabyte each for a 10,000-stack file.
#[derive(Debug)]
struct SharedText(Arc<SourceFile>);

impl miette::SourceCode for SharedText {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        self.0
            .text
            .as_str()
            .read_span(span, context_lines_before, context_lines_after)
    }
}

/// Presents a [`Diagnostic`] to miette's renderer.
struct MietteAdapter {
    message: String,
    severity: Severity,
    source: Option<miette::NamedSource<SharedText>>,
    labels: Vec<miette::LabeledSpan>,
    help: Option<String>,
}

impl MietteAdapter {
    fn new(d: &Diagnostic) -> Self {
        // Whatever a diagnostic quotes (a module's words, a value from a
        // file) reaches the terminal as text, never as escape sequences.
        let mut message = crate::text::printable_owned(d.message.clone());
        // A snippet of a very long line (a minified blob, a 1 MB line) would
        // print it whole, with an underline as long: say where instead.
        if let (Some(source), Some(label)) = (&d.source, d.labels.first())
            && longest_line_around(&source.text, label.span.clone()) > MAX_SNIPPET_LINE
        {
            let mut plain = d.clone();
            plain.source = None;
            plain.labels.clear();
            plain
                .notes
                .insert(0, format!("at {}", source.location(label.span.start)));
            return Self::new(&plain);
        }
        for note in &d.notes {
            message.push_str("\n  ");
            message.push_str(&crate::text::printable(note).replace('\n', "\n  "));
        }
        let source = d
            .source
            .as_ref()
            .map(|s| miette::NamedSource::new(&s.name, SharedText(Arc::clone(s))));
        let labels = d
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let text = (!l.text.is_empty()).then(|| l.text.clone());
                let span = miette::SourceSpan::from(l.span.start..l.span.end.max(l.span.start));
                if i == 0 {
                    miette::LabeledSpan::new_primary_with_span(text, span)
                } else {
                    miette::LabeledSpan::new_with_span(text, span)
                }
            })
            .collect();
        Self {
            message,
            severity: d.severity,
            source,
            labels,
            help: d
                .help
                .as_deref()
                .map(|h| crate::text::printable(h).into_owned()),
        }
    }
}

impl fmt::Debug for MietteAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteAdapter {}

impl miette::Diagnostic for MietteAdapter {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let file = SourceFile::new("a.toml", "ab\ncd\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(4), (2, 2));
        assert_eq!(file.location(3), "a.toml:2:1");
    }
}

//! Live progress of an apply: one trait, reported to by the deploy, shown
//! as progress bars on a terminal, as one log line per event elsewhere (CI
//! logs, `strata serve`), or collected by tests.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{Outcome, StackResult};
use crate::cloud::StackEvent;

/// Something that happened during an apply.
#[derive(Debug, Clone)]
pub enum ProgressEvent {
    /// A wave starts (1-based).
    Wave {
        /// Its number.
        number: usize,
        /// Its stacks.
        stacks: Vec<String>,
    },
    /// A stack's create or update starts.
    Started {
        /// The stack.
        stack: String,
        /// True for a create, false for an update.
        creating: bool,
    },
    /// A stack's deletion starts.
    Deleting {
        /// The stack.
        stack: String,
    },
    /// CloudFormation reported an event.
    Cloud {
        /// The stack.
        stack: String,
        /// The event.
        event: StackEvent,
    },
    /// Something worth saying that CloudFormation did not.
    Note {
        /// The stack.
        stack: String,
        /// What.
        message: String,
    },
    /// A stack is done.
    Finished {
        /// How it went.
        result: StackResult,
    },
}

/// Receives progress.
pub trait Progress: Send + Sync {
    /// One event.
    fn report(&self, event: &ProgressEvent);
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn report(&self, _: &ProgressEvent) {}
}

/// Keeps every event, for tests and for the pull-request comment.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<ProgressEvent>>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Progress for Recorder {
    fn report(&self, event: &ProgressEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}

/// One line per event on stderr, with the time since the start: for CI logs
/// and anything that is not a terminal.
pub struct LogLines {
    started: Instant,
    out: Mutex<Box<dyn std::io::Write + Send>>,
}

impl LogLines {
    /// Lines to stderr.
    pub fn stderr() -> Self {
        Self::to(Box::new(std::io::stderr()))
    }

    /// Lines to any writer.
    pub fn to(out: Box<dyn std::io::Write + Send>) -> Self {
        Self {
            started: Instant::now(),
            out: Mutex::new(out),
        }
    }
}

/// The line an event is shown as (without the time).
pub fn line(event: &ProgressEvent) -> String {
    match event {
        ProgressEvent::Wave { number, stacks } => {
            format!("wave {number}: {}", stacks.join(", "))
        }
        ProgressEvent::Started { stack, creating } => {
            format!(
                "{stack}: {}",
                if *creating { "creating" } else { "updating" }
            )
        }
        ProgressEvent::Deleting { stack } => format!("{stack}: deleting"),
        ProgressEvent::Cloud { stack, event } => {
            let mut line = format!(
                "{stack}: {} {} {}",
                event.logical_id, event.resource_type, event.status
            );
            if let Some(reason) = event.reason.as_deref().filter(|r| !r.is_empty()) {
                line.push_str(": ");
                line.push_str(reason);
            }
            line
        }
        ProgressEvent::Note { stack, message } => format!("{stack}: {message}"),
        ProgressEvent::Finished { result } => finished_line(result),
    }
}

fn finished_line(result: &StackResult) -> String {
    let mut line = format!(
        "{}: {} in {:.1}s",
        result.stack,
        result.outcome.label(),
        result.duration.as_secs_f64()
    );
    if let Some(reason) = &result.reason {
        line.push_str(" — ");
        line.push_str(reason);
    }
    line
}

impl Progress for LogLines {
    fn report(&self, event: &ProgressEvent) {
        let elapsed = self.started.elapsed().as_secs_f64();
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "[{elapsed:>6.1}s] {}", line(event));
        }
    }
}

/// A progress bar per running stack on a terminal, with finished stacks
/// printed above them.
pub struct Bars {
    bars: MultiProgress,
    running: Mutex<Vec<(String, ProgressBar)>>,
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Bars {
    /// Bars on stderr.
    pub fn new() -> Self {
        Self {
            bars: MultiProgress::new(),
            running: Mutex::new(Vec::new()),
        }
    }

    fn bar(&self, stack: &str) -> Option<ProgressBar> {
        let running = self.running.lock().ok()?;
        running
            .iter()
            .find(|(name, _)| name == stack)
            .map(|(_, bar)| bar.clone())
    }
}

impl Progress for Bars {
    fn report(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Started { stack, .. } | ProgressEvent::Deleting { stack } => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<16} {elapsed:>4} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(stack.clone());
                bar.set_message(line(event));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                if let Ok(mut running) = self.running.lock() {
                    running.push((stack.clone(), bar));
                }
            }
            ProgressEvent::Cloud {
                stack,
                event: cloud,
            } => {
                if let Some(bar) = self.bar(stack) {
                    let mut message = format!("{} {}", cloud.logical_id, cloud.status);
                    if cloud.status.ends_with("_FAILED")
                        && let Some(reason) = &cloud.reason
                    {
                        message.push_str(": ");
                        message.push_str(reason);
                        let _ = self.bars.println(format!("  {}", line(event)));
                    }
                    bar.set_message(message);
                }
            }
            ProgressEvent::Note { stack, .. } => {
                if let Some(bar) = self.bar(stack) {
                    bar.set_message(line(event));
                } else {
                    let _ = self.bars.println(line(event));
                }
            }
            ProgressEvent::Wave { .. } => {
                let _ = self.bars.println(line(event));
            }
            ProgressEvent::Finished { result } => {
                let mark = match result.outcome {
                    Outcome::Created | Outcome::Updated | Outcome::Deleted => "✔",
                    Outcome::Unchanged => "=",
                    Outcome::Skipped => "-",
                    Outcome::Failed | Outcome::RolledBack => "✘",
                };
                if let Ok(mut running) = self.running.lock()
                    && let Some(index) = running.iter().position(|(n, _)| *n == result.stack)
                {
                    let (_, bar) = running.remove(index);
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                let _ = self
                    .bars
                    .println(format!("{mark} {}", finished_line(result)));
            }
        }
    }
}

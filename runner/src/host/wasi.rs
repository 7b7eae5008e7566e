//! The two WASI calls a module may make, both harmless: reading its
//! environment, which is empty, and writing to stderr, which goes to the
//! module's log. Rust's standard library makes both when a module panics
//! without the SDK's hook (it reads `RUST_BACKTRACE`, then prints the
//! message), so with them a plain `panic!` keeps its message. Everything
//! else of WASI (files, clocks, randomness, sockets, stdin, stdout, exit)
//! still traps: [`define`] names only these, and the host stubs the rest.
//!
//! Defined per component, under the exact versions it imports (`@0.2.0`
//! from the preview-1 adapter, `@0.2.6` from std), so the host's trapping
//! stubs never shadow them.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentType, Lift, Linker, Lower, Resource, ResourceType};

use super::Sandbox;

/// Most bytes of stderr kept per call.
const STDERR_BYTES_KEPT: usize = 16 * 1024;

/// Host side of `wasi:io/streams`' `output-stream`: only stderr exists.
pub struct Stderr;

/// Host side of `wasi:io/error`'s `error`: never created.
pub struct IoError;

/// Host side of `wasi:io/poll`'s `pollable`: always ready (stderr never
/// makes a writer wait).
pub struct Pollable;

/// `wasi:io/streams`' `stream-error`. Writes to stderr never fail, so
/// neither case is ever made; the type is needed for the signatures.
#[derive(ComponentType, Lift, Lower)]
#[allow(dead_code, reason = "only its type is used: writes never fail")]
#[component(variant)]
enum StreamError {
    #[component(name = "last-operation-failed")]
    LastOperationFailed(Resource<IoError>),
    #[component(name = "closed")]
    Closed,
}

/// What a module wrote to stderr during one call, bounded.
#[derive(Default)]
pub struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Captured {
    fn write(&mut self, contents: &[u8]) {
        let room = STDERR_BYTES_KEPT.saturating_sub(self.bytes.len());
        let kept = contents.len().min(room);
        self.bytes.extend_from_slice(&contents[..kept]);
        self.dropped += contents.len() - kept;
    }

    /// The lines written so far (the buffer is emptied), with a note of
    /// what did not fit.
    pub fn take_lines(&mut self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.bytes).into_owned();
        self.bytes.clear();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("stderr: {l}"))
            .collect();
        if self.dropped > 0 {
            lines.push(format!("stderr: ({} more bytes not kept)", self.dropped));
            self.dropped = 0;
        }
        lines
    }
}

/// The message of a panic std's default hook printed, from the lines of
/// stderr (`stderr: thread '<unnamed>' (1) panicked at src/lib.rs:3:5:`,
/// the message, a `note:`): `"the message (at src/lib.rs:3:5)"`, and the
/// lines it took, which the caller drops from the log.
pub fn std_panic_message(lines: &[String]) -> Option<(String, std::ops::Range<usize>)> {
    let start = lines.iter().position(|line| {
        line.strip_prefix("stderr: ")
            .is_some_and(|l| l.starts_with("thread '") && l.contains(" panicked at "))
    })?;
    let header = lines[start].strip_prefix("stderr: ")?;
    let at = header
        .split_once(" panicked at ")?
        .1
        .trim_end_matches(':')
        .to_owned();
    let mut end = start + 1;
    let mut message = Vec::new();
    while let Some(line) = lines.get(end).and_then(|l| l.strip_prefix("stderr: ")) {
        end += 1;
        if line.starts_with("note: ") {
            break;
        }
        message.push(line);
    }
    let message = message.join("\n");
    let text = if message.is_empty() {
        format!("(no message) (at {at})")
    } else {
        format!("{message} (at {at})")
    };
    Some((text, start..end))
}

/// Define the environment and stderr for every version of them `component`
/// imports.
pub fn define(linker: &mut Linker<Sandbox>, component: &Component) -> wasmtime::Result<()> {
    let engine = component.engine();
    // Every imported WASI instance, with the resources it exports (an
    // interface that `use`s `output-stream` re-exports it: each mention
    // must be the one host type).
    let imports: Vec<(String, Vec<String>)> = component
        .component_type()
        .imports(engine)
        .filter_map(|(name, item)| match item.ty {
            ComponentItem::ComponentInstance(instance) => Some((
                name.to_owned(),
                instance
                    .exports(engine)
                    .filter(|(_, export)| matches!(export.ty, ComponentItem::Resource(_)))
                    .map(|(export, _)| export.to_owned())
                    .collect(),
            )),
            _ => None,
        })
        .filter(|(name, _)| name.starts_with("wasi:"))
        .collect();
    for (name, resources) in &imports {
        let mut instance = linker.instance(name)?;
        for resource in resources {
            match resource.as_str() {
                "output-stream" => {
                    instance.resource("output-stream", ResourceType::host::<Stderr>(), |_, _| {
                        Ok(())
                    })?
                }
                "error" => {
                    instance.resource("error", ResourceType::host::<IoError>(), |_, _| Ok(()))?;
                }
                "pollable" => {
                    instance
                        .resource("pollable", ResourceType::host::<Pollable>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    for (name, _) in &imports {
        let Some((interface, _version)) = name.split_once('@') else {
            continue;
        };
        match interface {
            "wasi:io/streams" => {
                let mut instance = linker.instance(name)?;
                instance.func_wrap(
                    "[method]output-stream.check-write",
                    |_store, (_stream,): (Resource<Stderr>,)| {
                        Ok((Result::<u64, StreamError>::Ok(4096),))
                    },
                )?;
                for method in [
                    "[method]output-stream.write",
                    "[method]output-stream.blocking-write-and-flush",
                ] {
                    instance.func_wrap(
                        method,
                        |mut store, (_stream, contents): (Resource<Stderr>, Vec<u8>)| {
                            store.data_mut().stderr.write(&contents);
                            Ok((Result::<(), StreamError>::Ok(()),))
                        },
                    )?;
                }
                instance.func_wrap(
                    "[method]output-stream.subscribe",
                    |_store, (_stream,): (Resource<Stderr>,)| {
                        Ok((Resource::<Pollable>::new_own(0),))
                    },
                )?;
                for method in [
                    "[method]output-stream.flush",
                    "[method]output-stream.blocking-flush",
                ] {
                    instance.func_wrap(method, |_store, (_stream,): (Resource<Stderr>,)| {
                        Ok((Result::<(), StreamError>::Ok(()),))
                    })?;
                }
            }
            "wasi:io/poll" => {
                let mut instance = linker.instance(name)?;
                instance.func_wrap(
                    "[method]pollable.block",
                    |_store, (_p,): (Resource<Pollable>,)| Ok(()),
                )?;
                instance.func_wrap(
                    "[method]pollable.ready",
                    |_store, (_p,): (Resource<Pollable>,)| Ok((true,)),
                )?;
            }
            "wasi:cli/stderr" => {
                let mut instance = linker.instance(name)?;
                instance.func_wrap("get-stderr", |_store, (): ()| {
                    Ok((Resource::<Stderr>::new_own(0),))
                })?;
            }
            "wasi:cli/environment" => {
                let mut instance = linker.instance(name)?;
                instance.func_wrap("get-environment", |_store, (): ()| {
                    Ok((Vec::<(String, String)>::new(),))
                })?;
                instance.func_wrap("get-arguments", |_store, (): ()| {
                    Ok((Vec::<String>::new(),))
                })?;
                instance.func_wrap("initial-cwd", |_store, (): ()| Ok((None::<String>,)))?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_message_of_a_std_panic_from_stderr() {
        let lines: Vec<String> = [
            "stderr: thread '<unnamed>' (1) panicked at src/lib.rs:12:9:",
            "stderr: the config had no `answer`",
            "stderr: note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            std_panic_message(&lines),
            Some((
                "the config had no `answer` (at src/lib.rs:12:9)".to_owned(),
                0..3
            ))
        );
    }
}

//! Write a synthetic config repository for measuring Strata at scale:
//!
//! ```text
//! cargo run -p strata --example synthetic -- [--stacks N] [--shape chain|cycle|ring] [--change] DIR
//! ```
//!
//! `DIR` gets `environments/synthetic.toml` (N stacks, default 1,000) committed
//! on `main`; `--change` adds a commit changing one line. Then, for example:
//!
//! ```text
//! strata --repo DIR validate
//! strata --repo DIR plan --env synthetic --base HEAD~1 --head HEAD
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

use synthetic::Shape;

const USAGE: &str = "usage: synthetic [--stacks N] [--shape chain|cycle|ring] [--change] DIR";

fn main() -> ExitCode {
    let mut stacks = 1_000;
    let mut shape = Shape::Chain;
    let mut change = false;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stacks" => match args.next().and_then(|n| n.replace('_', "").parse().ok()) {
                Some(n) => stacks = n,
                None => return usage("`--stacks` needs a number"),
            },
            "--shape" => match args.next().as_deref().and_then(parse_shape) {
                Some(s) => shape = s,
                None => return usage("`--shape` is `chain`, `cycle` or `ring`"),
            },
            "--change" => change = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => return usage(&format!("unexpected argument `{arg}`")),
        }
    }
    let Some(dir) = dir else {
        return usage("where should the repository go? name a directory");
    };
    match synthetic::write_repo(&dir, stacks, shape, change) {
        Ok(()) => {
            println!(
                "wrote `{}`: {stacks} stacks ({shape:?}){}",
                dir.display(),
                if change {
                    ", one-line change at HEAD"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write `{}`: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}

/// `chain`, `cycle` or `ring`.
fn parse_shape(text: &str) -> Option<Shape> {
    match text {
        "chain" => Some(Shape::Chain),
        "cycle" => Some(Shape::Cycle),
        "ring" => Some(Shape::Ring),
        _ => None,
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}\n{USAGE}");
    ExitCode::from(2)
}

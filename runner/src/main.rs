//! The `strata` binary: parse the command line, run, pick the exit code.

fn main() -> std::process::ExitCode {
    strata::cli::main()
}

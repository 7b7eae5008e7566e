//! The `strata` command, built inside the tests package so its integration
//! tests can run it (`CARGO_BIN_EXE_strata-under-test`): the same `main` as
//! `runner/src/main.rs`.

fn main() -> std::process::ExitCode {
    strata::cli::main()
}

//! Every wasmtime `bindgen!` output lives here; the rest of the host works
//! with Strata's own types (`super::types`).
//!
//! One binding per minor version of `strata:module` the host accepts: a
//! module speaks exactly one, picked from its exports when it loads. Both
//! define the same `host` interface (under their own version), so one
//! `Sandbox` serves both.

/// `strata:module@0.1.0`, kept verbatim in `wit/v0.1/` (`bindgen!` on
/// `wit/` reads only the top-level files, not this subdirectory).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "stack",
    });
}

/// `strata:module@0.2.0` (`wit/module.wit`): 0.1 plus resource traits in
/// `rendered`.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "stack",
    });
}

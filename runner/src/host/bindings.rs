//! Every wasmtime `bindgen!` output lives here; the rest of the host works
//! with Strata's own types (`super::types`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "stack",
});

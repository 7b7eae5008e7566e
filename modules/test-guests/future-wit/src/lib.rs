//! A module built against `strata:module@0.3.0`, which this host does not
//! accept (it speaks 0.1.x and 0.2.x): loading it must fail with the
//! versions it accepts named.

#![expect(unsafe_code, reason = "wit-bindgen's generated export glue")]

wit_bindgen::generate!({ path: "wit", world: "stack" });

struct Future;

impl exports::strata::module::stack_module::Guest for Future {
    fn describe() -> String {
        "from the future".into()
    }
}

export!(Future);

//! `#[napi]` glue: argument conversion, handles over event loops, error mapping. No protocol logic.

pub mod bus;
pub mod events;

/// The native core's version (the crate version).
#[napi_derive::napi]
pub fn native_version() -> String {
  env!("CARGO_PKG_VERSION").to_string()
}

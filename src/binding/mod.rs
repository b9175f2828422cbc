//! `#[napi]` glue: argument conversion, handles over event loops, error mapping. No protocol logic.

pub mod authenticator;
pub mod bus;
pub mod busmq;
pub mod events;
pub mod handle;
pub mod kinds;
pub mod local;
pub mod mdp;
pub mod relay;
pub mod security;
mod socket_engine;
pub mod sockets;

/// The native core's version (the crate version).
#[cfg_attr(test, allow(dead_code))]
#[napi_derive::napi]
pub fn native_version() -> String {
  env!("CARGO_PKG_VERSION").to_string()
}

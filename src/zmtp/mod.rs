//! Our ZMTP 3.x wire engine, floor 1: a sans-IO core. Functions and state machines over byte buffers; no
//! sockets, no timers, no runtime. A driver (tokio, libuv on a JS thread, or a plain Rust thread) reads bytes
//! into a [`session::Session`], writes what it hands back, and calls it again at [`session::Session::next_timeout`].
//!
//! - [`greeting`]: the 64-byte greeting, version negotiation (3.0 legacy forms vs 3.1), mechanism names.
//! - [`frame`]: frame encoder and incremental decoder with size limits checked before any allocation.
//! - [`command`]: READY properties, ERROR, PING/PONG, SUBSCRIBE/CANCEL in both forms.
//! - [`mechanism`]: the [`mechanism::Mechanism`] trait with NULL, PLAIN and CURVE; Z85 keys; a ZAP-style hook.
//! - [`security`]: `conf.curve` / `conf.plain` as JS gives them, turned into a mechanism for either side.
//! - [`config`]: a session's configuration: limits (with their defaults), heartbeats, valid socket-type pairs.
//! - [`raw`]: whole messages as their wire bytes, for a relay (scan under the decoder's limits, send as is).
//! - [`session`]: greeting -> handshake -> traffic for one connection, with limits, handshake timeout and heartbeats.
//! - [`socket`]: floor 2, socket semantics (ROUTER) over sessions, pure.
//! - [`error`]: the one error enum of this layer, with a countable reason per variant.

pub mod command;
pub mod config;
pub mod error;
pub mod frame;
pub mod greeting;
pub mod mechanism;
pub mod raw;
pub mod security;
pub mod session;
pub mod socket;
mod timers;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod libzmq_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod testdriver;

pub use error::ZmtpError;

/// The hash map of this layer's tables (connections by token, routing ids): fast hashing, keys from peers are
/// bounded in number by the driver's limits.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
pub use session::{Event, Heartbeat, Limits, PeerInfo, Session, SessionConfig};

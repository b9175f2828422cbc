//! zmqbus: the native core. (Module map filled in as engines land.)
//!
//! - `transport`: socket layer (ROUTER/DEALER/PUB/SUB/PUSH/PULL over tcp, ipc, inproc) shared by every engine.
#![deny(clippy::all)]

pub mod transport;

//! zmqbus: the native core of the `zmqbus` npm package.
//!
//! Map of the crate (each engine = pure codec, pure state machine, one event loop task):
//! - [`runtime`]: the addon's single tokio runtime thread.
//! - [`boundary`]: batched Node <-> Rust delivery (one call per batch, never per message).
//! - [`error`]: the one mapping of every layer's error enum to JS errors with a `code`.
//! - [`log`]: `DEBUG=zmqbus:*` diagnostics (tracing, off and free unless asked for).
//! - [`transport`]: socket layer (ROUTER/DEALER/PUB/SUB/PUSH/PULL over tcp, ipc, inproc) shared by every engine.
//! - [`bus`]: the zmqbus node (multicast discovery, priority election, failover, forwarder).
//! - [`mdp`]: the pigato-compatible request/reply engine (codec, broker/worker/client state, event loops).
//! - [`sockets`]: classic ZeroMQ sockets for JS (`zmq` module API): REQ/REP state, ports, one event loop per socket.
//! - [`zmtp`]: our sans-IO ZMTP 3.x core (greeting, frames, commands, NULL/PLAIN/CURVE, session state machine).
//! - [`driver`]: the one task that owns a listening socket's connections (ROUTER for the broker, PUB/SUB sides for the bus forwarder) over [`zmtp`] sessions.
//! - [`uvloop`]: libuv handles on a JS thread's own loop (the engines' driver there; no thread hop).
//! - [`busmq`]: busmq-compatible queues on Redis (keys, Lua scripts, queue state, one loop per bus).
//! - `binding`: `#[napi]` glue only; converts arguments and talks to event loops.
#![deny(clippy::all)]

pub mod boundary;
pub mod bus;
pub mod busmq;
pub mod driver;
pub mod error;
pub mod log;
pub mod mdp;
pub mod runtime;
pub mod sockets;
pub mod transport;
pub mod uvloop;
pub mod zmtp;

mod binding;

/// Sets up logging when Node loads the addon. The runtime thread starts with the first engine that needs
/// it (a broker, a bus node, a socket): a process of clients and workers, which run on their JS thread,
/// never starts it.
#[napi_derive::module_init]
fn init() {
  log::init();
}

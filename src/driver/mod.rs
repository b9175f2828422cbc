//! Floor 3: the code that owns file descriptors and timers for our ZMTP engine, on the tokio runtime.
//!
//! One task owns a socket and all its connections (the broker's own loop task): no task per connection.
//! Readiness comes back as connection tokens through per-connection wakers ([`conn`]), so a wake-up costs
//! O(ready connections). Reads land in each session's spare capacity; writes are one `write` per connection
//! per turn with everything pending.
//!
//! - [`reactor`]: what tells the driver its sockets are ready (tokio here, libuv on a JS thread: `crate::uvloop`).
//! - [`net`]: tcp and ipc listeners and streams behind one type each.
//! - [`server`]: listeners + connections + sessions + the ROUTER state, polled from one task, with limits.
//! - [`dealer`]: a DEALER connected to one endpoint (pigato workers and clients), with peer up/down events.
//! - [`inproc`]: `inproc://` pipes of a [`server::Server`] (the hub's channel pairs, no session): every socket
//!   state works over them unchanged.
//! - [`monitor`]: peer events for a socket monitor (connect, retry, listen, accept, disconnect...).
//! - [`tune`]: kernel options of tcp streams and listeners (buffer sizes, keepalive, backlog).
//! - [`router`]: the ROUTER an engine uses: [`server::Server`] for tcp/ipc plus the hub for `inproc://`.

mod conn;
pub mod dealer;
mod dial;
mod inproc;
mod io;
mod listen;
mod monitor;
pub mod net;
pub mod reactor;
pub mod router;
pub mod server;
mod timers;
pub mod tune;

#[cfg(test)]
mod dial_tests;
#[cfg(test)]
mod inproc_tests;
#[cfg(test)]
mod monitor_tests;
#[cfg(test)]
mod tests;

pub use dial::DialStats;
pub use listen::bind_net;
pub use monitor::{PeerEvent, PeerEventKind};
pub use router::{Recv, Router};
pub use server::{LinkEvent, Server, ServerConfig, ServerStats};
pub use tune::TcpTuning;

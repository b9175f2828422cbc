//! busmq on Redis: queues that share Redis with busmq 3.1's JavaScript processes.
//!
//! - [`keys`]: busmq's key names (hash-tagged on a cluster), its instance choice among several
//!   urls, url parsing and connection layouts (pure).
//! - [`scripts`]: our Lua scripts over busmq's layout (batched push and pop).
//! - [`types`]: commands, operations, outcomes and events.
//! - [`codec`]: packed records to and from `lib/busmq/` (pure).
//! - [`state`]: the queues' and pub/sub objects' state machine (pure; takes `now`).
//! - [`ops`]: one Redis operation, run over a master's or a cluster's connection.
//! - [`tls`]: TLS settings, the client built from them, and Node's codes for a failed
//!   handshake.
//! - [`lane`]: the fast lane on the JS thread's own loop: pushes of plain queues and the
//!   blocking pops of plain consumers, on connections of their own (one url, no TLS).
//! - [`eventloop`]: the one task per bus that ties them together, with a connection pair per url
//!   (or one through sentinels, or one to a cluster).

pub mod codec;
pub mod eventloop;
pub mod keys;
pub mod lane;
pub mod ops;
pub mod scripts;
pub mod state;
pub mod tls;
pub mod types;

//! busmq on Redis: queues that share Redis with busmq 3.1's JavaScript processes.
//!
//! - [`keys`]: busmq's key names and url parsing (pure).
//! - [`scripts`]: our Lua scripts over busmq's layout (batched push and pop).
//! - [`types`]: commands, operations, outcomes and events.
//! - [`codec`]: packed records to and from `lib/busmq/` (pure).
//! - [`state`]: the queues' state machine (pure; takes `now`).
//! - [`ops`]: one Redis operation, run over the bus's connections.
//! - [`eventloop`]: the one task per bus that ties them together.

pub mod codec;
pub mod eventloop;
pub mod keys;
pub mod ops;
pub mod scripts;
pub mod state;
pub mod types;

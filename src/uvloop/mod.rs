//! Floor 3 on a JS thread: libuv handles of the loop that runs the JS of the thread that made an object, so
//! a client, worker, socket or bus node does its network I/O and timers where its events are consumed, with
//! no hop to another thread (issue: the thread model).
//!
//! - [`ffi`]: the libuv functions we call, resolved from the host process at run time.
//! - [`handle`]: owned poll, timer, check and async handles; closing frees them in libuv's close callback.
//! - [`task`]: poll functions run on the loop when woken, queued while libuv or JS calls into us.
//! - `io`, `listen`, `datagram`: the driver's stream, listener and timer on those handles (Unix today; Windows polls sockets the
//!   same way once its `RawSocket` path is written).

#[cfg(unix)]
pub mod datagram;
pub mod ffi;
pub mod handle;
#[cfg(unix)]
pub mod io;
#[cfg(unix)]
pub mod listen;
pub mod task;

pub use handle::{now_ms, Async, AsyncSender, Check, LoopRef, Poll, Refable, Timer, UvError};

//! The addon's one tokio runtime.
//!
//! A `current_thread` runtime lives on its own OS thread ("zmqbus-rt") and is driven by that
//! thread for the life of the process. Every engine task is spawned onto it through
//! [`handle`]. A single thread keeps the socket tasks free of cross-core hand-offs (on a
//! 2-core machine a multi-thread runtime was measured slower and noisier), and running the
//! runtime from its own thread is required: a `current_thread` runtime driven through
//! `Handle::block_on` from the JS thread makes no I/O progress.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Handle};

static RUNTIME: OnceLock<Handle> = OnceLock::new();

/// The handle of the addon's runtime, starting the runtime thread on first use.
///
/// # Panics
/// Panics when the operating system refuses to create the runtime or its thread (out of
/// memory or thread limits): there is no way to run any engine without it.
pub fn handle() -> &'static Handle {
  RUNTIME.get_or_init(|| {
    let runtime = Builder::new_current_thread()
      .enable_all()
      .thread_name("zmqbus-rt")
      .build()
      .expect("cannot build the zmqbus tokio runtime");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
      .name("zmqbus-rt".into())
      // The thread parks inside `block_on` for ever; it owns the runtime, so spawned tasks and
      // the I/O driver run here. The process ending tears it down with everything else.
      .spawn(move || runtime.block_on(std::future::pending::<()>()))
      .expect("cannot spawn the zmqbus runtime thread");
    handle
  })
}

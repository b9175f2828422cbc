//! The addon's one tokio runtime.
//!
//! A `current_thread` runtime lives on its own OS thread ("zmqbus-rt") and is driven by that
//! thread for the life of the process. Every engine task is spawned onto it through
//! [`handle`]. A single thread keeps the socket tasks free of cross-core hand-offs (on a
//! 2-core machine a multi-thread runtime was measured slower and noisier), and running the
//! runtime from its own thread is required: a `current_thread` runtime driven through
//! `Handle::block_on` from the JS thread makes no I/O progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::{Builder, Handle};
use tokio::sync::Notify;

static RUNTIME: OnceLock<Handle> = OnceLock::new();

/// The handle of the addon's runtime, starting the runtime thread on first use.
///
/// # Panics
/// Panics when the operating system refuses to create the runtime or its thread (out of
/// memory or thread limits): there is no way to run any engine without it.
pub fn handle() -> &'static Handle {
  RUNTIME.get_or_init(|| {
    // See `# Panics`: without this runtime no engine can run at all.
    let runtime = Builder::new_current_thread()
      .enable_all()
      .thread_name("zmqbus-rt")
      .build()
      .expect("cannot build the zmqbus tokio runtime");
    let handle = runtime.handle().clone();
    handle.spawn(spinner());
    std::thread::Builder::new()
      .name("zmqbus-rt".into())
      // The thread parks inside `block_on` for ever; it owns the runtime, so spawned tasks and
      // the I/O driver run here. The process ending tears it down with everything else.
      .spawn(move || runtime.block_on(std::future::pending::<()>()))
      .expect("cannot spawn the zmqbus runtime thread");
    handle
  })
}

/// How long the runtime thread keeps polling after activity before it parks, on a machine with more
/// than [`SPIN_MIN_CORES`] cores.
///
/// Waking a parked thread costs tens of microseconds on a VM (the vCPU halts), and a reply that arrives
/// while the thread is still polling saves that. The window is short, so an idle process burns at most
/// this much CPU after its last message. `ZMQBUS_SPIN_US` overrides it (0 disables).
const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Below this many cores the runtime thread never spins by default: with the broker, its workers and
/// clients on two cores, a spinning thread takes the core a JS thread is about to need (measured: the
/// one-in-flight p50 through a broker got worse with spin on 2 cores).
const SPIN_MIN_CORES: usize = 3;

fn default_spin() -> Duration {
  let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
  if cores >= SPIN_MIN_CORES {
    DEFAULT_SPIN
  } else {
    Duration::ZERO
  }
}

struct Spin {
  window: Duration,
  base: std::time::Instant,
  /// Microseconds since `base` of the latest activity.
  last: AtomicU64,
  notify: Notify,
}

fn spin() -> &'static Spin {
  static SPIN: OnceLock<Spin> = OnceLock::new();
  SPIN.get_or_init(|| {
    let window = std::env::var("ZMQBUS_SPIN_US")
      .ok()
      .and_then(|v| v.parse::<u64>().ok())
      .map_or_else(default_spin, Duration::from_micros);
    Spin {
      window,
      base: std::time::Instant::now(),
      last: AtomicU64::new(0),
      notify: Notify::new(),
    }
  })
}

/// Records activity (a batch from JS, a socket message handled): the runtime thread keeps
/// polling for the spin window. Cheap: two atomics; callable from any thread.
pub fn activity() {
  let s = spin();
  if s.window.is_zero() {
    return;
  }
  s.last
    .store(s.base.elapsed().as_micros() as u64, Ordering::Relaxed);
  s.notify.notify_one();
}

/// The task that keeps the runtime thread polling during the spin window. `yield_now` hands
/// control back to the scheduler, which polls the I/O driver without blocking before it runs
/// this task again, so sockets and cross-thread wake-ups are served at once while it spins.
async fn spinner() {
  let s = spin();
  if s.window.is_zero() {
    return;
  }
  let window = s.window.as_micros() as u64;
  loop {
    s.notify.notified().await;
    loop {
      tokio::task::yield_now().await;
      let now = s.base.elapsed().as_micros() as u64;
      if now.saturating_sub(s.last.load(Ordering::Relaxed)) > window {
        break;
      }
    }
  }
}

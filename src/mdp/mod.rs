//! The pigato-compatible request/reply engine (Majordomo-style), pure core.
//!
//! - [`codec`]: frames <-> typed messages, both directions, zero-copy.
//! - [`routing`]: which registered worker service names serve a requested
//!   service name (exact, `prefix*` wildcards, `name@version` semver ranges).
//! - [`cache`]: the broker's bounded reply cache.
//! - [`broker`]: the broker state machine (queues, dispatch, liveness, retry).
//! - [`worker`]: the worker-side state machine (liveness, active requests).
//! - [`client`]: the client-side state machine (pending requests, deadlines).
//! - [`eventloop`]: the I/O side: one tokio task per broker, worker or client session.
//!
//! Nothing here does I/O: every state machine takes `now` and pushes what to
//! send into an output `Vec`; the event loops own the sockets and timers.

pub mod broker;
pub mod cache;
pub mod client;
pub mod codec;
pub mod routing;
pub mod worker;

/// Errors of the state layer (worker and client state machines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
  /// The request is not (or no longer) tracked: already ended, unknown, or
  /// dropped by a disconnect.
  #[error("request is not active")]
  Inactive,
}
pub mod eventloop;

/// The maps on the per-message path (requests by rid, workers by identity): ahash is several
/// times cheaper than SipHash here and still keyed per process, so peers cannot choose
/// colliding rids or identities.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// A request's timeout when neither its opts nor the client's conf give one (pigato: `opts.timeout || 60000`).
/// The one place of this default in Rust; the JS facade's `DEFAULTS.timeout` says the same to its users.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(60_000);

//! The I/O side of the pigato engine: one tokio task per broker, worker or client session,
//! owning its sockets and driving the pure state machines of `crate::mdp` with the clock.
//!
//! Every loop has the same shape: `select!` over (commands from JS, socket input, timers);
//! after an input it drains whatever else is ready (bounded) so work is batched, applies the
//! state machine's outputs, then flushes the outbox once.

pub mod broker;
mod broker_params;
pub mod client;
pub mod kinds;
mod parked;
pub mod peer;
pub mod session;
pub mod worker;

use crate::boundary::Command;
use thiserror::Error;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Errors of the MDP event loops.
#[derive(Debug, Error)]
pub enum LoopError {
  /// The socket layer failed (bad endpoint, address in use...).
  #[error(transparent)]
  Transport(#[from] crate::transport::TransportError),
  /// The facade passed a configuration the loop cannot use.
  #[error("invalid configuration: {0}")]
  Config(String),
}

impl From<LoopError> for crate::error::JsError {
  fn from(err: LoopError) -> Self {
    match &err {
      LoopError::Transport(t) => crate::error::JsError::new(t.code(), err.to_string()),
      LoopError::Config(_) => crate::error::JsError::invalid(err.to_string()),
    }
  }
}

/// Checks `endpoint`, then starts `run(commands)` on the addon runtime and returns the
/// command sender of the new loop.
pub(crate) fn spawn_loop<F, Fut>(
  endpoint: &str,
  run: F,
) -> Result<UnboundedSender<Command>, LoopError>
where
  F: FnOnce(UnboundedReceiver<Command>) -> Fut,
  Fut: std::future::Future<Output = ()> + Send + 'static,
{
  crate::transport::Endpoint::parse(endpoint)?;
  let (tx, rx) = unbounded_channel();
  crate::runtime::handle().spawn(run(rx));
  Ok(tx)
}

/// Most socket messages handled in one loop turn before the outbox is flushed, so one turn
/// never holds the runtime for long.
pub(crate) const DRAIN_LIMIT: usize = 512;

/// A new identity `prefix-uuid4` (pigato makes one at every (re)start).
pub(crate) fn new_identity(prefix: &str) -> String {
  let b: [u8; 16] = rand::random();
  format!(
    "{prefix}-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
    u16::from_be_bytes([b[4], b[5]]),
    u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
    (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
    u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
  )
}

#[cfg(test)]
mod tests {
  #[test]
  fn new_identity_is_prefix_then_a_version_4_uuid() {
    let id = super::new_identity("W1");
    let uuid = id.strip_prefix("W1-").unwrap();
    let parts: Vec<_> = uuid.split('-').collect();
    assert_eq!(
      parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
      vec![8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('4'));
    assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
  }
}

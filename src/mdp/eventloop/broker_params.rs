//! The broker's configuration as the JS facade sends it (JSON), and what the loop makes of it: the state
//! machine's [`BrokerConf`] and the listening socket's [`ServerConfig`] with this broker's limits.

use super::LoopError;
use crate::driver::ServerConfig;
use crate::mdp::broker::{BrokerConf, Dmode};
use crate::zmtp::security::SecurityParams;
use serde::Deserialize;
use std::time::Duration;

/// Messages queued for one peer before drops (see `server_config`).
const PEER_HWM: usize = 1_000_000;

/// The broker's configuration as the JS facade sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerParams {
  pub(super) endpoint: String,
  #[serde(default)]
  pub(super) intch: String,
  #[serde(default)]
  pub(super) name: String,
  pub(super) heartbeat: f64,
  pub(super) heartbeat_liveness: f64,
  dmode: String,
  #[serde(default)]
  pub(super) persist: bool,
  cache_max_entries: Option<f64>,
  cache_max_bytes: Option<f64>,
  /// `conf.maxQueue`: most requests waiting in one service queue.
  max_queue: Option<f64>,
  /// `conf.maxBytes`: most bytes of requests the broker holds.
  max_bytes: Option<f64>,
  /// Largest frame a peer may send (`ZMQ_MAXMSGSIZE`); default in [`crate::zmtp::Limits`].
  max_msg_size: Option<f64>,
  /// Milliseconds a connection has to finish its greeting and handshake (`ZMQ_HANDSHAKE_IVL`).
  handshake_timeout: Option<f64>,
  /// `conf.curve` / `conf.plain`: the mechanism every peer of the listening socket must use.
  #[serde(flatten)]
  security: SecurityParams,
  /// The listening socket's configuration, made from the fields above by [`BrokerParams::from_json`].
  #[serde(skip)]
  pub(super) server: ServerConfig,
}

impl BrokerParams {
  /// Parses the facade's JSON.
  ///
  /// # Errors
  /// `LoopError::Config` when a field is missing or out of range.
  pub fn from_json(json: &str) -> Result<Self, LoopError> {
    let mut params: Self =
      serde_json::from_str(json).map_err(|e| LoopError::Config(e.to_string()))?;
    let at_least_one = |v: f64| v.is_finite() && v >= 1.0;
    if !at_least_one(params.heartbeat) || !at_least_one(params.heartbeat_liveness) {
      return Err(LoopError::Config(
        "heartbeat and heartbeatLiveness must be >= 1".into(),
      ));
    }
    params.server = params.server_config()?;
    Ok(params)
  }

  pub(super) fn conf(&self) -> BrokerConf {
    let mut conf = BrokerConf {
      heartbeat: Duration::from_millis(self.heartbeat as u64),
      liveness: self.heartbeat_liveness as u32,
      dmode: if self.dmode == "rand" {
        Dmode::Rand
      } else {
        Dmode::Load
      },
      ..BrokerConf::default()
    };
    if let Some(n) = self.cache_max_entries {
      conf.cache_max_entries = n as usize;
    }
    if let Some(n) = self.cache_max_bytes {
      conf.cache_max_bytes = n as usize;
    }
    // The facade checked these (numbers >= 1; it sends Infinity as 2^53 - 1, which no count reaches).
    if let Some(n) = self.max_queue {
      conf.max_queue = n as usize;
    }
    if let Some(n) = self.max_bytes {
      conf.max_bytes = n as usize;
    }
    conf
  }

  /// The listening socket's configuration: a ROUTER session with this broker's limits and mechanism.
  ///
  /// # Errors
  /// `LoopError::Config` for unusable security options (a malformed key, a missing secret).
  fn server_config(&self) -> Result<ServerConfig, LoopError> {
    let mut config = ServerConfig::default();
    // What a peer's pipe holds is bounded by the protocol, not by a drop: requests to a worker by its
    // concurrency and `maxBytes` (they are held requests, counted in `heldBytes`), replies to a client by the
    // requests it made. libzmq's 1,000 messages per peer dropped requests assigned to a worker that was
    // busy in JS for a moment (100,000 held requests: 15-46% never arrived). The byte bound stays as the
    // guard against a peer that never reads.
    config.hwm = PEER_HWM;
    config.hwm_bytes = config.hwm_bytes.max(self.conf().max_bytes);
    config.session.mechanism = self
      .security
      .server()
      .map_err(|e| LoopError::Config(e.to_string()))?;
    let limits = &mut config.session.limits;
    if let Some(n) = self.max_msg_size.filter(|n| n.is_finite() && *n >= 1.0) {
      limits.max_msg_size = n as u64;
      // A message of the largest size must fit what one peer may make us hold.
      limits.max_buffered = limits.max_buffered.max((n as usize).saturating_mul(2));
    }
    if let Some(ms) = self
      .handshake_timeout
      .filter(|n| n.is_finite() && *n >= 1.0)
    {
      limits.handshake_timeout = Duration::from_millis(ms as u64);
    }
    Ok(config)
  }
}

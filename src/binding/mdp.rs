//! `#[napi]` handles of the pigato-compatible engine: `ClientHandle`, `WorkerHandle`,
//! `BrokerHandle`. Each converts arguments and starts one event loop on the runtime thread;
//! the protocol lives in `crate::mdp`.

use super::handle::Handle;
use super::local::{local_mode, LocalEngine};
use crate::error::JsError;
use crate::mdp::eventloop::peer::LinkParams;
use crate::mdp::eventloop::{broker, client, session, worker};
use napi::bindgen_prelude::{Buffer, Function};
use napi::Env;
use napi_derive::napi;
use std::time::Duration;

fn millis(value: f64, name: &str) -> Result<Duration, JsError> {
  if (0.0..1e12).contains(&value) {
    Ok(Duration::from_millis(value as u64))
  } else {
    Err(JsError::invalid(format!(
      "{name} must be a number of milliseconds >= 0; received {value}"
    )))
  }
}

/// Where a client's or worker's session loop runs: on the JS thread that made it (the default), or on our
/// runtime thread (`ZMQBUS_THREAD=runtime`).
enum Engine {
  Runtime(Handle),
  Local(LocalEngine),
}

impl Engine {
  fn new(env: &Env, on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    if local_mode() {
      Ok(Engine::Local(LocalEngine::new(env, &on_events)?))
    } else {
      Ok(Engine::Runtime(Handle::new(on_events)?))
    }
  }

  fn send(&self, batch: &[u8]) {
    match self {
      Engine::Runtime(h) => h.send(batch),
      Engine::Local(l) => l.send(batch),
    }
  }

  fn stop(&self) {
    match self {
      Engine::Runtime(h) => h.stop(),
      Engine::Local(l) => l.stop(),
    }
  }
}

/// Native side of `Client`: one DEALER session with heartbeats, liveness, reconnects and
/// request timeouts, delivering replies in batches.
#[napi]
pub struct ClientHandle {
  inner: Engine,
}

#[napi]
impl ClientHandle {
  /// `onEvents(batch)` receives packed event records (see lib/kinds.js).
  #[napi(constructor)]
  pub fn new(env: Env, on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      inner: Engine::new(&env, on_events)?,
    })
  }

  /// Connects to `broker` as `identity`; reconnects use `prefix` + '-' + a new uuid.
  #[napi]
  pub fn start(
    &self,
    broker: String,
    prefix: String,
    identity: String,
    heartbeat_ms: f64,
    reconnect_ms: f64,
    security: Option<String>,
  ) -> napi::Result<(), String> {
    let config = session::connect_config(security.as_deref()).map_err(JsError::from)?;
    let params = client::ClientParams {
      config,
      broker,
      prefix,
      identity,
      heartbeat: millis(heartbeat_ms, "heartbeat")?,
      reconnect: millis(reconnect_ms, "reconnect")?,
    };
    match &self.inner {
      Engine::Runtime(h) => {
        let outbox = h.take_outbox()?;
        h.started(client::spawn(params, outbox).map_err(JsError::from)?);
      }
      Engine::Local(l) => {
        let endpoint = params.broker.clone();
        l.start(&endpoint, |outbox, commands, reactor| {
          client::open(params, outbox, commands, reactor)
        })?;
      }
    }
    Ok(())
  }

  /// Queues a packed batch of commands.
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    self.inner.send(batch);
  }

  /// Stops the session; an `E_STOPPED` event follows.
  #[napi]
  pub fn stop(&self) {
    self.inner.stop();
  }
}

/// Native side of `Worker`: one DEALER session serving a service.
#[napi]
pub struct WorkerHandle {
  inner: Engine,
}

#[napi]
impl WorkerHandle {
  /// `onEvents(batch)` receives packed event records (see lib/kinds.js).
  #[napi(constructor)]
  pub fn new(env: Env, on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      inner: Engine::new(&env, on_events)?,
    })
  }

  /// Connects to `broker`, announces `service`, heartbeats with `concurrency`.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn start(
    &self,
    broker: String,
    service: String,
    prefix: String,
    identity: String,
    heartbeat_ms: f64,
    reconnect_ms: f64,
    concurrency: f64,
    security: Option<String>,
  ) -> napi::Result<(), String> {
    let config = session::connect_config(security.as_deref()).map_err(JsError::from)?;
    if !concurrency.is_finite() || concurrency < -1.0 {
      return Err(
        JsError::invalid(format!(
          "concurrency must be -1 or a count; received {concurrency}"
        ))
        .into(),
      );
    }
    let params = worker::WorkerParams {
      link: LinkParams {
        config,
        broker,
        prefix,
        identity,
        heartbeat: millis(heartbeat_ms, "heartbeat")?,
        reconnect: millis(reconnect_ms, "reconnect")?,
      },
      service,
      concurrency: concurrency as i64,
    };
    match &self.inner {
      Engine::Runtime(h) => {
        let outbox = h.take_outbox()?;
        h.started(worker::spawn(params, outbox).map_err(JsError::from)?);
      }
      Engine::Local(l) => {
        let endpoint = params.link.broker.clone();
        l.start(&endpoint, |outbox, commands, reactor| {
          worker::open(params, outbox, commands, reactor)
        })?;
      }
    }
    Ok(())
  }

  /// Queues a packed batch of commands (replies, heartbeats, concurrency changes).
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    self.inner.send(batch);
  }

  /// Says goodbye to the broker and stops; an `E_STOPPED` event follows.
  #[napi]
  pub fn stop(&self) {
    self.inner.stop();
  }
}

/// Native side of `Broker`: the whole broker runs in Rust.
#[napi]
pub struct BrokerHandle {
  inner: Handle,
  stats: broker::StatsCell,
}

#[napi]
impl BrokerHandle {
  /// `onEvents(batch)` receives lifecycle and persistence records.
  #[napi(constructor)]
  pub fn new(on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      inner: Handle::new(on_events)?,
      stats: broker::StatsCell::default(),
    })
  }

  /// Binds and starts; `conf` is the facade's JSON (endpoint, intch, heartbeat, dmode...).
  /// Bind failures arrive as an `E_ERROR` event, then `E_STOPPED`.
  #[napi]
  pub fn start(&self, conf: String) -> napi::Result<(), String> {
    let params = broker::BrokerParams::from_json(&conf).map_err(JsError::from)?;
    let outbox = self.inner.take_outbox()?;
    self
      .inner
      .started(broker::spawn(params, outbox, self.stats.clone()).map_err(JsError::from)?);
    Ok(())
  }

  /// Queues a packed batch of commands (restored persistent requests).
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    self.inner.send(batch);
  }

  /// The broker's counters as JSON.
  #[napi]
  pub fn stats(&self) -> String {
    self.stats.to_json()
  }

  /// Unbinds and stops; an `E_STOPPED` event follows.
  #[napi]
  pub fn stop(&self) {
    self.inner.stop();
  }
}

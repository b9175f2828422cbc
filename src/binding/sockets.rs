//! `#[napi] SocketHandle`: the native side of one classic socket (`lib/socket.js`). It converts
//! and checks arguments, keeps the options new binds/connects take, and sends [`Control`]s to
//! the socket's event loop (`crate::sockets::eventloop`). No socket logic lives here.
//!
//! Where the loop runs (this JS thread's libuv loop, or the runtime thread) is `super::socket_engine`.

use std::cell::{Cell, RefCell};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, FnArgs, Function, Unknown};
use napi::Env;
use napi_derive::napi;

use super::authenticator::{Handler, JsAuthenticator};
use super::socket_engine::Engine;
use crate::error::JsError;
use crate::sockets::eventloop::{Control, MAX_LINGER};
use crate::sockets::options::{CustomAuthenticator, SocketOptions};
use crate::sockets::proxy;
use crate::sockets::{SocketError, SocketType};
use crate::transport::Endpoint;

fn hwm(value: f64, name: &str) -> Result<usize, JsError> {
  if value.is_finite() && value >= 0.0 && value <= f64::from(u32::MAX) {
    Ok(value as usize)
  } else {
    Err(JsError::invalid(format!(
      "{name} must be a count >= 0; received {value}"
    )))
  }
}

fn endpoint(ep: &str) -> Result<(), JsError> {
  Endpoint::parse(ep)
    .map(|_| ())
    .map_err(|e| JsError::new(e.code(), e.to_string()))
}

/// Native side of a classic ZeroMQ socket (`zmq.socket(type)`).
#[napi]
pub struct SocketHandle {
  kind: SocketType,
  /// `None` once closed. Every method takes `&self` (a `RefCell` here, borrowed only briefly): a call runs
  /// a local loop when it returns, whose delivery may call back into this handle from JS.
  engine: RefCell<Option<Engine>>,
  opts: RefCell<SocketOptions>,
  linger: Cell<Option<Duration>>,
}

#[napi]
impl SocketHandle {
  /// A socket of `type` (`"pub"`, `"sub"`, `"req"`, `"rep"`, `"dealer"`, `"router"`, `"push"`,
  /// `"pull"`, `"xsub"`, `"xpub"`, `"pair"`); `onEvents(batch)` receives packed event records (`lib/socket.js`).
  /// Throws `EINVAL` for an unknown or unsupported type.
  #[napi(constructor)]
  pub fn new(
    env: Env,
    socket_type: String,
    on_events: Function<Buffer, ()>,
  ) -> napi::Result<Self, String> {
    let kind = SocketType::parse(&socket_type).map_err(JsError::from)?;
    let engine = Engine::start(&env, kind, on_events)
      .map_err(|e: napi::Error| JsError::new("EIO", e.to_string()))?;
    Ok(SocketHandle {
      kind,
      engine: RefCell::new(Some(engine)),
      opts: RefCell::new(SocketOptions::default()),
      linger: Cell::new(None),
    })
  }

  fn control(&self, c: Control) -> Result<(), JsError> {
    match &*self.engine.borrow() {
      Some(engine) => engine.send(c),
      None => Err(JsError::from(SocketError::Closed)),
    }
  }

  /// Asks the loop a question JS waits for (`bindSync`, `statsSync`).
  fn ask<T>(&self, make: impl FnOnce(SyncSender<T>) -> Control) -> Result<T, JsError> {
    match &*self.engine.borrow() {
      Some(engine) => engine.ask(make),
      None => Err(JsError::from(SocketError::Closed)),
    }
  }

  /// `handler` as this socket's authenticator; only a loop on this thread can call it in place.
  fn custom_authenticator(
    &self,
    env: &Env,
    handler: &Handler<'_>,
  ) -> Result<CustomAuthenticator, JsError> {
    let local = matches!(&*self.engine.borrow(), Some(engine) if !engine.on_runtime());
    if !local {
      return Err(JsError::new(
        "ENOTSUP",
        "an authenticator function needs the socket on its JS thread (not ZMQBUS_THREAD=runtime, not STREAM)",
      ));
    }
    let auth =
      JsAuthenticator::new(env, handler).map_err(|e| JsError::new("EIO", e.to_string()))?;
    Ok(CustomAuthenticator(std::sync::Arc::new(auth)))
  }

  /// Hands the changed options to the loop (later binds/connects take them; the state's switches apply now).
  fn options_changed(&self) -> Result<(), JsError> {
    let opts = Box::new(self.opts.borrow().clone());
    self.control(Control::Options(opts))
  }

  /// Binds `endpoint` in the background; an event tagged `reqId` reports the resolved endpoint
  /// or the error. Throws `EINVAL` for a malformed endpoint, `ENOTSOCK` when closed.
  #[napi]
  pub fn bind(&self, endpoint_str: String, req_id: String) -> napi::Result<(), String> {
    endpoint(&endpoint_str)?;
    Ok(self.control(Control::Bind {
      req: req_id,
      ep: endpoint_str,
      reply: None,
    })?)
  }

  /// Binds `endpoint`, blocking the JS thread only for the bind; returns the resolved endpoint
  /// (the real port for `tcp://host:*`). Throws with the bind's error code.
  #[napi]
  pub fn bind_sync(&self, endpoint_str: String) -> napi::Result<String, String> {
    endpoint(&endpoint_str)?;
    let answer = self.ask(|reply| Control::Bind {
      req: String::new(),
      ep: endpoint_str,
      reply: Some(reply),
    })?;
    answer.map_err(|(code, message)| JsError::new(code, message).into())
  }

  /// Unbinds `endpoint` in the background; an event tagged `reqId` reports the outcome.
  #[napi]
  pub fn unbind(&self, endpoint_str: String, req_id: String) -> napi::Result<(), String> {
    endpoint(&endpoint_str)?;
    Ok(self.control(Control::Unbind {
      req: req_id,
      ep: endpoint_str,
    })?)
  }

  /// Connects to `endpoint` in the background (reconnecting). Throws `EINVAL` for a malformed endpoint.
  #[napi]
  pub fn connect(&self, endpoint_str: String) -> napi::Result<(), String> {
    endpoint(&endpoint_str)?;
    Ok(self.control(Control::Connect(endpoint_str))?)
  }

  /// Drops the connection to `endpoint`; an unknown endpoint becomes an `error` event (`ENOENT`).
  #[napi]
  pub fn disconnect(&self, endpoint_str: String) -> napi::Result<(), String> {
    endpoint(&endpoint_str)?;
    Ok(self.control(Control::Disconnect(endpoint_str))?)
  }

  /// Queues a packed batch of messages (`C_SEND` records).
  #[napi]
  pub fn send(&self, batch: &[u8]) -> napi::Result<(), String> {
    self.control(Control::Batch(Bytes::copy_from_slice(batch)))?;
    if (self.engine.borrow().as_ref()).is_some_and(Engine::on_runtime) {
      // A reply is likely soon: keep the runtime thread polling instead of parking.
      crate::runtime::activity();
    }
    Ok(())
  }

  /// ZMQ_SUBSCRIBE: adds a prefix filter (SUB/XSUB only).
  #[napi]
  pub fn subscribe(&self, prefix: &[u8]) -> napi::Result<(), String> {
    self.subscription(prefix, true)
  }

  /// ZMQ_UNSUBSCRIBE: removes one prefix filter (SUB/XSUB only).
  #[napi]
  pub fn unsubscribe(&self, prefix: &[u8]) -> napi::Result<(), String> {
    self.subscription(prefix, false)
  }

  fn subscription(&self, prefix: &[u8], on: bool) -> napi::Result<(), String> {
    if !matches!(self.kind, SocketType::Sub | SocketType::XSub) {
      return Err(JsError::invalid("subscriptions apply to SUB and XSUB sockets only").into());
    }
    let prefix = Bytes::copy_from_slice(prefix);
    Ok(self.control(if on {
      Control::Subscribe(prefix)
    } else {
      Control::Unsubscribe(prefix)
    })?)
  }

  /// Stops reading the socket (the peer feels backpressure once queues fill).
  #[napi]
  pub fn pause(&self) -> napi::Result<(), String> {
    Ok(self.control(Control::Pause)?)
  }

  /// Monitor events on (`true`: `E_MONITOR` records with libzmq's event numbers, values and endpoints, as
  /// the engine connects, retries, listens, accepts and loses peers) or off.
  #[napi]
  pub fn monitor(&self, on: bool) -> napi::Result<(), String> {
    Ok(self.control(Control::Monitor(on))?)
  }

  /// `zmq.proxy(this, backend)` inside the engine: each side that receives hands its messages to the other
  /// (they never reach JS). The JS facade checks the socket order first. Throws `ENOTSOCK` when a socket is
  /// closed.
  #[napi]
  pub fn proxy(&self, backend: &SocketHandle) -> napi::Result<(), String> {
    self.start_proxy(backend, None)
  }

  /// As [`SocketHandle::proxy`], with a capture socket that gets a copy of one direction (what the backend
  /// forwards, or what the frontend forwards when the backend does not receive).
  #[napi]
  pub fn proxy_with_capture(
    &self,
    backend: &SocketHandle,
    capture: &SocketHandle,
  ) -> napi::Result<(), String> {
    self.start_proxy(backend, Some(capture))
  }

  fn start_proxy(
    &self,
    backend: &SocketHandle,
    capture: Option<&SocketHandle>,
  ) -> napi::Result<(), String> {
    let closed = || JsError::from(SocketError::Closed);
    let live = |h: &SocketHandle| h.engine.borrow().is_some();
    if !live(self) || !live(backend) || !capture.is_none_or(live) {
      return Err(closed().into());
    }
    let (front, back, cap) = proxy::plan(self.kind, backend.kind, capture.is_some());
    self.control(front)?;
    backend.control(back)?;
    if let (Some(capture), Some(cap)) = (capture, cap) {
      capture.control(cap)?;
    }
    Ok(())
  }

  /// Reads the socket again after `pause()`.
  #[napi]
  pub fn resume(&self) -> napi::Result<(), String> {
    Ok(self.control(Control::Resume)?)
  }

  /// ZMQ_IDENTITY / ZMQ_ROUTING_ID for binds and connects made after this call (1-255 bytes, or empty to clear).
  #[napi]
  pub fn set_identity(&self, identity: &[u8]) -> napi::Result<(), String> {
    if identity.len() > 255 {
      return Err(JsError::invalid("identity must be at most 255 bytes").into());
    }
    self.opts.borrow_mut().identity = Bytes::copy_from_slice(identity);
    Ok(self.options_changed()?)
  }

  /// ZMQ_SNDHWM and ZMQ_RCVHWM (messages) for binds and connects made after this call.
  #[napi]
  pub fn set_hwm(&self, sndhwm: f64, rcvhwm: f64) -> napi::Result<(), String> {
    let (sndhwm, rcvhwm) = (hwm(sndhwm, "sndhwm")?, hwm(rcvhwm, "rcvhwm")?);
    let mut opts = self.opts.borrow_mut();
    (opts.sndhwm, opts.rcvhwm) = (sndhwm, rcvhwm);
    drop(opts);
    Ok(self.options_changed()?)
  }

  /// ZMQ_LINGER in milliseconds: how long `close()` keeps flushing queued messages
  /// (-1 = until sent, at most 30 s).
  #[napi]
  pub fn set_linger(&self, linger_ms: f64) -> napi::Result<(), String> {
    let linger = if linger_ms == -1.0 {
      None
    } else if linger_ms.is_finite() && linger_ms >= 0.0 {
      Some(Duration::from_millis(linger_ms as u64).min(MAX_LINGER))
    } else {
      return Err(
        JsError::invalid(format!(
          "linger must be -1 or milliseconds >= 0; received {linger_ms}"
        ))
        .into(),
      );
    };
    self.linger.set(linger);
    Ok(())
  }

  /// The engine's counters as JSON: connections `accepted` and `active`, `refused` by reason (a wrong CURVE
  /// key, a bad PLAIN password...), `handshakeEof`, and `dial` (`attempts`, `failed`, `connected`). Blocks
  /// the JS thread only for the answer.
  #[napi]
  pub fn stats_sync(&self) -> napi::Result<String, String> {
    Ok(self.ask(Control::Stats)?)
  }

  /// Sets an integer option by its libzmq name without `ZMQ_` (`reconnect_ivl`, `heartbeat_ivl`,
  /// `maxmsgsize`, `router_mandatory`, `xpub_verbose`, `req_relaxed`, `curve_server`, `plain_server`...).
  /// Throws `EINVAL` for a name this socket does not act on or a value out of range.
  #[napi]
  pub fn set_int_option(&self, name: String, value: f64) -> napi::Result<(), String> {
    if !value.is_finite() || value.fract() != 0.0 || value < -1.0 || value > f64::from(i32::MAX) {
      return Err(
        JsError::invalid(format!("{name} must be an integer >= -1; received {value}")).into(),
      );
    }
    if !self.opts.borrow_mut().set_int(&name, value as i64) {
      return Err(JsError::invalid(format!("unknown socket option {name}")).into());
    }
    Ok(self.options_changed()?)
  }

  /// Sets a text option by its libzmq name without `ZMQ_` (`curve_publickey`, `curve_secretkey`,
  /// `curve_serverkey` as 40 Z85 characters; `plain_username`, `plain_password`). Throws `EINVAL` for an
  /// unknown name.
  #[napi]
  pub fn set_text_option(&self, name: String, value: String) -> napi::Result<(), String> {
    if !self.opts.borrow_mut().set_text(&name, &value) {
      return Err(JsError::invalid(format!("unknown socket option {name}")).into());
    }
    Ok(self.options_changed()?)
  }

  /// Who a server admits (an extension: libzmq asks a ZAP handler): `users` for PLAIN (name -> password;
  /// without it a PLAIN server admits nobody, as libzmq with no handler), `curveClients` for CURVE (Z85 public
  /// keys; without it any client with a valid handshake, as libzmq), or `handler`, a function asked during
  /// each handshake on this thread, which then alone decides (see `authenticator.rs` for its shape). Throws
  /// `ENOTSUP` for a handler on a socket whose loop runs on the runtime thread.
  // Spelled out, not through `authenticator::Handler`: napi writes the type into binding.d.ts.
  #[allow(clippy::type_complexity)]
  #[napi]
  pub fn set_authorized(
    &self,
    env: Env,
    users: Option<std::collections::HashMap<String, String>>,
    curve_clients: Option<Vec<String>>,
    handler: Option<Function<'_, FnArgs<(String, String, String, String)>, Unknown<'_>>>,
  ) -> napi::Result<(), String> {
    let custom = match handler {
      None => None,
      Some(f) => Some(self.custom_authenticator(&env, &f)?),
    };
    let mut opts = self.opts.borrow_mut();
    opts.plain_users = users;
    opts.curve_clients = curve_clients;
    opts.authenticator = custom;
    drop(opts);
    Ok(self.options_changed()?)
  }

  /// Closes the socket; queued messages are flushed for at most the linger, then a `closed`
  /// event follows. Closing twice is a no-op.
  #[napi]
  pub fn close(&self) {
    // Taken out first, so JS called back from the loop finds this handle closed.
    let engine = self.engine.borrow_mut().take();
    if let Some(engine) = engine {
      let _ = engine.send(Control::Close {
        linger: self.linger.get(),
      });
      // A local task goes on until its linger is over, then ends by itself.
    }
  }
}

impl Drop for SocketHandle {
  fn drop(&mut self) {
    // Garbage-collected without close(): end a local task without calling JS (this may run in a
    // finalizer). A loop on the runtime sees its control channel close and ends by itself.
    if let Some(engine) = self.engine.get_mut().take() {
      engine.cancel();
    }
  }
}

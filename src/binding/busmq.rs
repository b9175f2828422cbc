//! `#[napi] BusmqHandle`: the native side of a busmq bus (`lib/busmq/bus.js`). It parses the
//! url, starts the bus's loop on the runtime thread, and queues packed command batches. The
//! protocol lives in `crate::busmq`.

use super::handle::Handle;
use crate::busmq::codec::kinds_json;
use crate::busmq::eventloop;
use crate::busmq::keys::RedisTarget;
use crate::error::JsError;
use napi::bindgen_prelude::{Buffer, Function};
use napi_derive::napi;

/// The record kinds of the busmq handle, as JSON (read once by `lib/busmq/kinds.js`).
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn busmq_kinds() -> String {
  kinds_json()
}

/// Native side of a busmq bus: a Redis connection pair per url and every queue object of the bus.
#[napi]
pub struct BusmqHandle {
  handle: Handle,
}

#[napi]
impl BusmqHandle {
  /// `onEvents(batch)` receives packed event records (see lib/busmq/bus.js).
  #[napi(constructor)]
  pub fn new(on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      handle: Handle::new(on_events)?,
    })
  }

  /// Connects to every url of `urls` (`redis://[pass@]host[:port][/db]`, one connection pair
  /// each; a queue lives on one of them, chosen as busmq chooses) as client `name` and starts
  /// the loop. `layout` is `direct`. Throws `EINVAL` for a url it cannot use or an empty list,
  /// and `ENOTSUP` for TLS (`rediss:`) or another layout.
  #[napi]
  pub fn start(
    &mut self,
    urls: Vec<String>,
    name: String,
    layout: String,
  ) -> napi::Result<(), String> {
    if layout != "direct" {
      let msg = format!("unsupported connection layout: {layout}");
      return Err(JsError::new("ENOTSUP", msg).into());
    }
    if urls.is_empty() {
      return Err(JsError::invalid("no redis url").into());
    }
    let mut targets = Vec::with_capacity(urls.len());
    for url in &urls {
      let target = RedisTarget::parse(url).map_err(|e| JsError::invalid(e.to_string()))?;
      if target.tls {
        return Err(JsError::new("ENOTSUP", "rediss:// (TLS) is not supported yet").into());
      }
      targets.push(target);
    }
    let outbox = self.handle.take_outbox()?;
    // The loop's sockets register with the runtime's reactor: spawn inside it.
    let _guard = crate::runtime::handle().enter();
    let commands = eventloop::spawn(targets, name, outbox);
    self.handle.started(commands);
    Ok(())
  }

  /// Queues a packed batch of commands (copied before this returns).
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    self.handle.send(batch);
  }

  /// Closes the connections; a final `STOPPED` record follows.
  #[napi]
  pub fn stop(&mut self) {
    self.handle.stop();
  }
}

//! `#[napi] BusmqHandle`: the native side of a busmq bus (`lib/busmq/bus.js`). It parses the
//! url, starts the bus's loop on the runtime thread, and queues packed command batches. The
//! protocol lives in `crate::busmq`.

use super::handle::Handle;
use crate::busmq::codec::kinds_json;
use crate::busmq::eventloop;
use crate::busmq::keys::{Endpoint, RedisTarget};
use crate::busmq::tls::TlsSettings;
use crate::error::JsError;
use napi::bindgen_prelude::{Buffer, Function};
use napi_derive::napi;

/// The record kinds of the busmq handle, as JSON (read once by `lib/busmq/kinds.js`).
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn busmq_kinds() -> String {
  kinds_json()
}

/// How a bus reaches Redis (`Bus.create({ layout, redisOptions })`).
#[napi(object)]
pub struct BusmqLayout {
  /// `direct` (the urls are masters), `sentinels` (the urls are sentinels) or `cluster` (the
  /// urls are nodes of a Redis Cluster).
  pub kind: String,
  /// Sentinels: the monitored master's name (`redisOptions.name`).
  pub master_name: Option<String>,
  /// Sentinels: the master's password (`redisOptions.password`).
  pub password: Option<String>,
  /// Sentinels: the master's database (`redisOptions.db`).
  pub db: Option<u32>,
  /// TLS for every url, `rediss://` or not (`redisOptions.tls`, or a client's TLS options).
  /// Direct layout only.
  pub tls: Option<BusmqTls>,
}

/// TLS settings (the names of Node's `tls.connect` options).
#[napi(object)]
pub struct BusmqTls {
  /// PEM certificates of the CAs to trust instead of the system's.
  pub ca: Option<String>,
  /// PEM client certificate chain.
  pub cert: Option<String>,
  /// PEM private key of `cert`.
  pub key: Option<String>,
  /// `false` accepts any server certificate (default `true`).
  pub reject_unauthorized: Option<bool>,
}

impl From<&BusmqTls> for TlsSettings {
  fn from(t: &BusmqTls) -> Self {
    Self {
      ca: t.ca.clone(),
      cert: t.cert.clone(),
      key: t.key.clone(),
      insecure: t.reject_unauthorized == Some(false),
    }
  }
}

fn target(url: &str, default_port: u16, layout: &BusmqLayout) -> Result<RedisTarget, JsError> {
  let mut target =
    RedisTarget::parse_with_port(url, default_port).map_err(|e| JsError::invalid(e.to_string()))?;
  if let Some(tls) = &layout.tls {
    target.tls = Some(tls.into());
  }
  if target.tls.is_some() && layout.kind != "direct" {
    return Err(JsError::new(
      "ENOTSUP",
      format!("TLS with layout '{}' is not supported yet", layout.kind),
    ));
  }
  Ok(target)
}

fn endpoints(urls: &[String], layout: &BusmqLayout) -> Result<Vec<Endpoint>, JsError> {
  if urls.is_empty() {
    return Err(JsError::invalid("no redis url"));
  }
  match layout.kind.as_str() {
    "direct" => urls
      .iter()
      .map(|u| target(u, 6379, layout).map(Endpoint::Direct))
      .collect(),
    // busmq 3.1's ioredis driver assumes 26379 for cluster urls without a port too.
    "cluster" => Ok(vec![Endpoint::Cluster {
      nodes: urls
        .iter()
        .map(|u| target(u, 26379, layout))
        .collect::<Result<_, _>>()?,
    }]),
    "sentinels" => Ok(vec![Endpoint::Sentinels {
      sentinels: urls
        .iter()
        .map(|u| target(u, 26379, layout))
        .collect::<Result<_, _>>()?,
      master: layout
        .master_name
        .clone()
        .unwrap_or_else(|| "mymaster".to_string()),
      password: layout.password.clone(),
      db: i64::from(layout.db.unwrap_or(0)),
    }]),
    other => Err(JsError::new(
      "ENOTSUP",
      format!("unsupported connection layout: {other}"),
    )),
  }
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

  /// Connects as client `name` and starts the loop. With `layout` `direct`, to every url of
  /// `urls` (`redis://[pass@]host[:port][/db]`, one connection pair each; a queue lives on one
  /// of them, chosen as busmq chooses). With `sentinels`, `urls` are sentinels (port 26379 by
  /// default) that name the master `masterName` (`mymaster` when absent), whose password and
  /// database are `password` and `db`. With `cluster`, `urls` are seed nodes of a Redis
  /// Cluster, and queue keys are hash-tagged (`{bus:queue:<name>}:...`) as busmq does.
  /// `rediss://` urls, or `layout.tls`, connect with TLS (direct layout). Throws `EINVAL` for a
  /// url it cannot use or an empty list, and `ENOTSUP` for TLS with sentinels or a cluster, or
  /// another layout.
  #[napi]
  pub fn start(
    &mut self,
    urls: Vec<String>,
    name: String,
    layout: BusmqLayout,
  ) -> napi::Result<(), String> {
    let endpoints = endpoints(&urls, &layout)?;
    let outbox = self.handle.take_outbox()?;
    // The loop's sockets register with the runtime's reactor: spawn inside it.
    let _guard = crate::runtime::handle().enter();
    let commands = eventloop::spawn(endpoints, name, outbox);
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

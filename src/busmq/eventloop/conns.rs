//! The connections of a bus, one per Redis url: each is a write link and a subscribe stream,
//! connected, pinged and retried on its own. The bus is online while every one is up (busmq's
//! rule), and offline once every one is down.

use crate::busmq::keys::{Endpoint, RedisTarget};
use crate::busmq::ops::{blmpop_supported, lpop_count_supported, Links, Writer};
use crate::busmq::tls::{self, connection_info};
use crate::busmq::types::Op;
use futures::StreamExt;
use redis::aio::PubSubStream;
use redis::{RedisConnectionInfo, RedisResult};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// Pause between connection attempts (busmq's).
pub const RETRY: Duration = Duration::from_secs(1);
/// Longest wait for one connection attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a live connection is checked with PING (busmq's period).
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// A PING unanswered this long means Redis is gone (hung, or a silent network): go offline and
/// reconnect.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for any reply. Long, because a call that times out may still have run (a pop
/// whose messages we would then never deliver); a hung Redis is caught sooner by the PING.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

type Connecting = Pin<Box<dyn Future<Output = RedisResult<(Links, PubSubStream)>> + Send>>;

/// One Redis url's connection pair and its liveness.
pub struct Conn {
  /// Where it connects.
  pub target: Endpoint,
  /// The write link and the subscribe sink, while up.
  pub links: Option<Links>,
  connecting: Option<Connecting>,
  stream: Option<PubSubStream>,
  /// When the next attempt is due (while down and not connecting).
  pub retry_at: Option<Instant>,
  /// When the unanswered liveness PING was sent.
  pub ping_sent: Option<Instant>,
  /// When the next liveness PING is due (while up).
  pub next_ping: Option<Instant>,
  /// Operations waiting for this connection.
  pub parked: VecDeque<Op>,
  /// The current outage was reported (one error per outage, not one per retry).
  pub down_reported: bool,
}

/// Something that happened on one connection.
pub enum ConnEvent {
  /// Connection `.0` finished an attempt.
  Connected(usize, RedisResult<(Links, PubSubStream)>),
  /// A message on connection `.0`'s subscribe stream; `None` when the stream ended.
  Message(usize, Option<redis::Msg>),
}

impl Conn {
  /// A connection to `target`, its first attempt under way.
  pub fn new(target: Endpoint, name: &str, index: usize) -> Self {
    let connecting = Some(Box::pin(connect(target.clone(), name.to_string(), index)) as Connecting);
    Self {
      target,
      links: None,
      connecting,
      stream: None,
      retry_at: None,
      ping_sent: None,
      next_ping: None,
      parked: VecDeque::new(),
      down_reported: false,
    }
  }

  /// Starts an attempt when the retry is due.
  pub fn retry_if_due(&mut self, now: Instant, name: &str, index: usize) {
    if self.retry_at.is_some_and(|at| at <= now) {
      self.retry_at = None;
      self.connecting = Some(Box::pin(connect(
        self.target.clone(),
        name.to_string(),
        index,
      )));
    }
  }

  /// The attempt succeeded.
  pub fn up(&mut self, links: Links, stream: PubSubStream) {
    self.links = Some(links);
    self.stream = Some(stream);
    self.ping_sent = None;
    self.next_ping = Some(Instant::now() + PING_EVERY);
    self.down_reported = false;
  }

  /// Lost (or never made): drops both connections, and tries again after `after`.
  pub fn down(&mut self, after: Duration) {
    self.links = None;
    self.stream = None;
    self.ping_sent = None;
    self.next_ping = None;
    self.connecting = None;
    self.retry_at = Some(Instant::now() + after);
  }

  /// The earliest instant this connection needs the loop (a retry, a PING, a PING timeout).
  pub fn deadline(&self) -> Option<Instant> {
    let ping = self.next_ping.or(self.ping_sent.map(|t| t + PING_TIMEOUT));
    [self.retry_at, ping].into_iter().flatten().min()
  }

  /// True when the last PING went unanswered too long.
  pub fn ping_overdue(&self, now: Instant) -> bool {
    self
      .ping_sent
      .is_some_and(|sent| now >= sent + PING_TIMEOUT)
  }

  /// The links when a PING is due now (marks it sent).
  pub fn ping_due(&mut self, now: Instant) -> Option<Links> {
    if self.ping_sent.is_some() || self.next_ping.is_none_or(|due| now < due) {
      return None;
    }
    self.ping_sent = Some(now);
    self.next_ping = None;
    self.links.clone()
  }

  /// The PING came back.
  pub fn pong(&mut self) {
    self.ping_sent = None;
    self.next_ping = self.links.as_ref().map(|_| Instant::now() + PING_EVERY);
  }
}

/// The next event of any connection (attempts before messages; lower urls first).
pub async fn next_event(conns: &mut [Conn]) -> ConnEvent {
  std::future::poll_fn(|cx| {
    for (i, c) in conns.iter_mut().enumerate() {
      if let Some(fut) = c.connecting.as_mut() {
        if let Poll::Ready(res) = fut.as_mut().poll(cx) {
          c.connecting = None;
          return Poll::Ready(ConnEvent::Connected(i, res));
        }
      }
      if let Some(stream) = c.stream.as_mut() {
        if let Poll::Ready(msg) = stream.poll_next_unpin(cx) {
          if msg.is_none() {
            c.stream = None;
          }
          return Poll::Ready(ConnEvent::Message(i, msg));
        }
      }
    }
    Poll::Pending
  })
  .await
}

/// A client of the master: the url itself, or the address the sentinels give for the master's
/// name (the first sentinel that answers).
async fn master_client(target: &Endpoint) -> RedisResult<redis::Client> {
  match target {
    Endpoint::Direct(t) => tls::client(t),
    // connect() takes the cluster path before asking for a master.
    Endpoint::Cluster { .. } => Err(redis::RedisError::from((
      redis::ErrorKind::Client,
      "a cluster has no single master",
    ))),
    Endpoint::Sentinels {
      sentinels,
      master,
      password,
      db,
    } => {
      let infos = sentinels
        .iter()
        .map(connection_info)
        .collect::<RedisResult<Vec<_>>>()?;
      let mut sentinel = redis::sentinel::Sentinel::build(infos)?;
      let mut node = RedisConnectionInfo::default().set_db(*db);
      if let Some(pass) = password {
        node = node.set_password(pass);
      }
      let node =
        redis::sentinel::SentinelNodeConnectionInfo::default().set_redis_connection_info(node);
      sentinel.async_master_for(master, Some(&node)).await
    }
  }
}

/// Opens the write and the subscribe connections, names the write one as busmq does
/// (`<bus id>:connection:<index>:write`), checks that the server is a master and loads the
/// scripts.
async fn connect(
  target: Endpoint,
  name: String,
  index: usize,
) -> RedisResult<(Links, PubSubStream)> {
  if let Endpoint::Cluster { nodes } = &target {
    return with_timeout(connect_cluster(nodes)).await;
  }
  let attempt = async {
    let client = master_client(&target).await?;
    let config = redis::AsyncConnectionConfig::new()
      .set_connection_timeout(Some(CONNECT_TIMEOUT))
      .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut write = Writer::Direct(
      client
        .get_multiplexed_async_connection_with_config(&config)
        .await?,
    );
    let setname: RedisResult<()> = redis::cmd("CLIENT")
      .arg("SETNAME")
      .arg(format!("{name}:connection:{index}:write"))
      .query_async(&mut write)
      .await;
    // Some managed Redis services refuse CLIENT SETNAME; the name is only a debugging aid.
    drop(setname);
    // Every default section: the role (replication) and the version (server).
    let info: String = redis::cmd("INFO").query_async(&mut write).await?;
    if !info.lines().any(|l| l.trim() == "role:master") {
      return Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "redis server is not a master",
      )));
    }
    for script in crate::busmq::scripts::ALL {
      redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(script)
        .query_async::<String>(&mut write)
        .await?;
    }
    let (sink, stream) = client.get_async_pubsub().await?.split();
    let lpop_count = lpop_count_supported(&info);
    let blocking = blmpop_supported(&info).then_some(client);
    Ok((
      Links {
        write,
        sink,
        lpop_count,
        blocking,
      },
      stream,
    ))
  };
  with_timeout(attempt).await
}

/// A cluster connection (it learns the slots from any seed node and follows MOVED and
/// failovers itself), and a subscribe connection to the first seed node that accepts one:
/// PUBLISH reaches every node of a cluster, so one node's subscriptions hear every queue.
async fn connect_cluster(nodes: &[RedisTarget]) -> RedisResult<(Links, PubSubStream)> {
  let infos = nodes
    .iter()
    .map(connection_info)
    .collect::<RedisResult<Vec<_>>>()?;
  let mut builder = redis::cluster::ClusterClientBuilder::new(infos.clone())
    .connection_timeout(CONNECT_TIMEOUT)
    .response_timeout(RESPONSE_TIMEOUT);
  if let Some(pass) = nodes.iter().find_map(|n| n.password.as_ref()) {
    builder = builder.password(pass);
  }
  let mut write = Writer::Cluster(builder.build()?.get_async_connection().await?);
  // The cluster client may ask every primary and answer with a map of node -> text; any node's
  // text will do (a cluster's nodes run one version). Without an answer, pops use the script.
  let info: Option<redis::Value> = redis::cmd("INFO")
    .arg("server")
    .query_async(&mut write)
    .await
    .ok();
  let lpop_count = info.is_some_and(|v| lpop_count_supported(&info_text(&v)));
  for script in crate::busmq::scripts::ALL {
    // SCRIPT LOAD goes to every primary.
    redis::cmd("SCRIPT")
      .arg("LOAD")
      .arg(script)
      .query_async::<redis::Value>(&mut write)
      .await?;
  }
  let mut last_err = None;
  for info in infos {
    match redis::Client::open(info)?.get_async_pubsub().await {
      Ok(pubsub) => {
        let (sink, stream) = pubsub.split();
        return Ok((
          Links {
            write,
            sink,
            lpop_count,
            // A cluster's slots move: pops there follow notifications.
            blocking: None,
          },
          stream,
        ));
      }
      Err(err) => last_err = Some(err),
    }
  }
  Err(
    last_err
      .unwrap_or_else(|| redis::RedisError::from((redis::ErrorKind::Client, "no cluster node"))),
  )
}

/// Every text in an `INFO` answer (one node's text, or a map of node -> text), joined.
fn info_text(value: &redis::Value) -> String {
  match value {
    redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    redis::Value::SimpleString(s) => s.clone(),
    redis::Value::VerbatimString { text, .. } => text.clone(),
    redis::Value::Array(items) | redis::Value::Set(items) => {
      items.iter().map(info_text).collect::<Vec<_>>().join("\n")
    }
    redis::Value::Map(pairs) => pairs
      .iter()
      .map(|(_, v)| info_text(v))
      .collect::<Vec<_>>()
      .join("\n"),
    _ => String::new(),
  }
}

async fn with_timeout<T>(attempt: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
  match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
    Ok(result) => result,
    Err(_) => Err(redis::RedisError::from(std::io::Error::new(
      std::io::ErrorKind::TimedOut,
      "timed out connecting to redis",
    ))),
  }
}

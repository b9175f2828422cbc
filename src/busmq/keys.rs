//! busmq 3.1's Redis names (pure): queue keys, the notification channel, and the parsing of
//! `redis://` urls into connection settings. See `../shared/spec/busmq-wire.md`.

use super::tls::TlsSettings;
use thiserror::Error;

/// The Redis names of one queue (`bus:queue:<name>:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
  /// Hash with `ttl`, `source`, `discover`, `maxsize` and user fields.
  pub metadata: String,
  /// List of flat `id, payload` pairs.
  pub messages: String,
  /// INCR counter of message ids (first id is 1).
  pub msgid: String,
  /// List of pairs popped in reliable mode and not yet acked.
  pub toack: String,
  /// Pub/sub channel that receives each new id after a push.
  pub available: String,
}

impl QueueKeys {
  /// The keys of queue `name`.
  pub fn new(name: &str) -> Self {
    Self::with_prefix(format!("bus:queue:{name}"))
  }

  /// The keys of queue `name` on a Redis Cluster: busmq hash-tags the prefix
  /// (`{bus:queue:<name>}:messages`...), so every key of a queue is in one slot and its scripts
  /// run on one node.
  pub fn clustered(name: &str) -> Self {
    Self::with_prefix(format!("{{bus:queue:{name}}}"))
  }

  fn with_prefix(prefix: String) -> Self {
    Self {
      metadata: format!("{prefix}:metadata"),
      messages: format!("{prefix}:messages"),
      msgid: format!("{prefix}:msgid"),
      toack: format!("{prefix}:toack"),
      available: format!("{prefix}:available"),
    }
  }

  /// The four keys that hold data, in the order the push script takes them.
  pub fn data_keys(&self) -> [&str; 4] {
    [&self.metadata, &self.messages, &self.msgid, &self.toack]
  }
}

/// The suffixes of a queue's keys and channel after `bus:queue:<name>`.
const QUEUE_SUFFIXES: [&str; 5] = ["metadata", "messages", "msgid", "toack", "available"];

/// The metadata key of the queue that `key` (any of its keys, or its `available` channel)
/// belongs to: the key busmq chooses a queue's Redis instance by. `None` for other names.
pub fn queue_route_key(key: &str) -> Option<String> {
  let (base, suffix) = key.rsplit_once(':')?;
  (base.starts_with("bus:queue:") && QUEUE_SUFFIXES.contains(&suffix))
    .then(|| format!("{base}:metadata"))
}

/// busmq's instance for a key that no instance holds yet: the sum of the key's UTF-16 code
/// units, modulo the number of urls (`Bus.prototype._connectionFor`). `n` must not be 0.
pub fn instance_for(key: &str, n: usize) -> usize {
  // JavaScript strings are UTF-16: a character outside the BMP counts as its two surrogates.
  let sum: u64 = key.encode_utf16().map(u64::from).sum();
  // n is a count of urls, far below u64::MAX; the remainder is below n.
  (sum % n.max(1) as u64) as usize
}

/// The pub/sub channel on which discoverable queues announce themselves.
pub const NOTIFICATIONS_CHANNEL: &str = "bus:pubsub:bus:notifications";

/// The announcement a discoverable queue publishes on every touch.
pub fn discovery_notice(keys: &QueueKeys, ttl: u32) -> String {
  // The metadata key needs JSON escaping: queue names are arbitrary strings.
  let key = serde_json::Value::from(keys.metadata.as_str());
  format!("{{\"event\":\"queue\",\"key\":{key},\"ttl\":{ttl}}}")
}

/// Where one Redis server is and how to log in, from a busmq url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
  /// Host name or IP address.
  pub host: String,
  /// TCP port (6379 when the url has none).
  pub port: u16,
  /// Password (`redis://pass@host`, `redis://:pass@host` or `redis://user:pass@host`).
  pub password: Option<String>,
  /// ACL user name, when the url has both a user and a password.
  pub username: Option<String>,
  /// Database number (`/db` path).
  pub db: i64,
  /// TLS settings: the defaults (the system's CAs) for `rediss:`, `None` for `redis:`.
  pub tls: Option<TlsSettings>,
}

/// How one logical connection reaches its Redis master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
  /// A url of the master itself (`layout: 'direct'`).
  Direct(RedisTarget),
  /// Nodes of a Redis Cluster (`layout: 'cluster'`); the topology is learnt from them.
  Cluster {
    /// Seed nodes (any reachable one is enough).
    nodes: Vec<RedisTarget>,
  },
  /// Sentinels that name the master of `master` (`layout: 'sentinels'`); the master is asked
  /// for again at every reconnect, so a failover is followed.
  Sentinels {
    /// The sentinels, tried in order (their urls' passwords are the sentinels' own).
    sentinels: Vec<RedisTarget>,
    /// The monitored master's name (`redisOptions.name`, `mymaster` by default).
    master: String,
    /// The master's password (`redisOptions.password`).
    password: Option<String>,
    /// The master's database (`redisOptions.db`).
    db: i64,
  },
}

impl Endpoint {
  /// `host:port` (or `sentinels host:port,...`) for error messages.
  pub fn describe(&self) -> String {
    match self {
      Endpoint::Direct(t) => format!("{}:{}", t.host, t.port),
      Endpoint::Cluster { nodes } => format!("cluster {}", list(nodes)),
      Endpoint::Sentinels { sentinels, .. } => format!("sentinels {}", list(sentinels)),
    }
  }
}

fn list(targets: &[RedisTarget]) -> String {
  let list: Vec<String> = targets
    .iter()
    .map(|t| format!("{}:{}", t.host, t.port))
    .collect();
  list.join(",")
}

/// Why a url cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UrlError {
  /// Not `redis://` or `rediss://`.
  #[error("unsupported url scheme in {0:?} (expected redis:// or rediss://)")]
  Scheme(String),
  /// No host after the scheme.
  #[error("no host in url {0:?}")]
  NoHost(String),
  /// The port is not a number in 1..=65535.
  #[error("bad port in url {0:?}")]
  Port(String),
  /// The path is not a database number.
  #[error("bad database number in url {0:?}")]
  Db(String),
}

impl RedisTarget {
  /// Parses `redis://[user:][pass@]host[:port][/db]`. A lone word before `@` is the password,
  /// as node-redis 2.8 reads it (busmq's default driver).
  ///
  /// # Errors
  /// [`UrlError`] naming what is wrong.
  pub fn parse(url: &str) -> Result<Self, UrlError> {
    Self::parse_with_port(url, 6379)
  }

  /// [`RedisTarget::parse`] with another port for urls that give none (26379 for sentinels,
  /// as busmq's ioredis driver assumes).
  ///
  /// # Errors
  /// [`UrlError`] naming what is wrong.
  pub fn parse_with_port(url: &str, default_port: u16) -> Result<Self, UrlError> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("redis://") {
      (false, rest)
    } else if let Some(rest) = url.strip_prefix("rediss://") {
      (true, rest)
    } else {
      return Err(UrlError::Scheme(url.to_string()));
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (auth, hostport) = match authority.rsplit_once('@') {
      Some((auth, hostport)) => (Some(auth), hostport),
      None => (None, authority),
    };
    let (username, password) = split_auth(auth);
    let (host, port) = split_host_port(hostport, url, default_port)?;
    let db = parse_db(path, url)?;
    Ok(Self {
      host,
      port,
      password,
      username,
      db,
      tls: tls.then(TlsSettings::default),
    })
  }
}

fn split_auth(auth: Option<&str>) -> (Option<String>, Option<String>) {
  let Some(auth) = auth.filter(|a| !a.is_empty()) else {
    return (None, None);
  };
  let auth = decode(auth);
  match auth.split_once(':') {
    Some(("", pass)) => (None, Some(pass.to_string())),
    Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
    None => (None, Some(auth)),
  }
}

fn split_host_port(
  hostport: &str,
  url: &str,
  default_port: u16,
) -> Result<(String, u16), UrlError> {
  // An IPv6 literal is bracketed: [::1]:6379.
  let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
    let (host, tail) = v6
      .split_once(']')
      .ok_or_else(|| UrlError::NoHost(url.to_string()))?;
    (host, tail.strip_prefix(':'))
  } else {
    match hostport.split_once(':') {
      Some((host, port)) => (host, Some(port)),
      None => (hostport, None),
    }
  };
  if host.is_empty() {
    return Err(UrlError::NoHost(url.to_string()));
  }
  let port = match port {
    None | Some("") => default_port,
    Some(p) => p
      .parse::<u16>()
      .ok()
      .filter(|p| *p > 0)
      .ok_or_else(|| UrlError::Port(url.to_string()))?,
  };
  Ok((host.to_string(), port))
}

fn parse_db(path: &str, url: &str) -> Result<i64, UrlError> {
  let path = path.split(['?', '#']).next().unwrap_or("");
  if path.is_empty() {
    return Ok(0);
  }
  path
    .parse::<i64>()
    .ok()
    .filter(|db| *db >= 0)
    .ok_or_else(|| UrlError::Db(url.to_string()))
}

/// Decodes `%XX` escapes (passwords with `@` or `:` in them); bad escapes stay as they are.
fn decode(s: &str) -> String {
  let bytes = s.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut i = 0;
  while i < bytes.len() {
    let hex = bytes
      .get(i + 1..i + 3)
      .and_then(|h| std::str::from_utf8(h).ok())
      .and_then(|h| u8::from_str_radix(h, 16).ok());
    match (bytes[i], hex) {
      (b'%', Some(b)) => {
        out.push(b);
        i += 3;
      }
      (b, _) => {
        out.push(b);
        i += 1;
      }
    }
  }
  String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn queue_keys_follow_busmq_layout() {
    let keys = QueueKeys::new("foo");
    assert_eq!(keys.metadata, "bus:queue:foo:metadata");
    assert_eq!(keys.messages, "bus:queue:foo:messages");
    assert_eq!(keys.msgid, "bus:queue:foo:msgid");
    assert_eq!(keys.toack, "bus:queue:foo:toack");
    assert_eq!(keys.available, "bus:queue:foo:available");
  }

  #[test]
  fn cluster_keys_are_hash_tagged_like_busmq() {
    let keys = QueueKeys::clustered("foo");
    assert_eq!(keys.metadata, "{bus:queue:foo}:metadata");
    assert_eq!(keys.messages, "{bus:queue:foo}:messages");
    assert_eq!(keys.msgid, "{bus:queue:foo}:msgid");
    assert_eq!(keys.toack, "{bus:queue:foo}:toack");
    assert_eq!(keys.available, "{bus:queue:foo}:available");
  }

  #[test]
  fn discovery_notice_is_json_with_escaped_key() {
    let keys = QueueKeys::new("a\"b");
    let notice = discovery_notice(&keys, 30);
    let v: serde_json::Value = serde_json::from_str(&notice).unwrap();
    assert_eq!(v["event"], "queue");
    assert_eq!(v["key"], "bus:queue:a\"b:metadata");
    assert_eq!(v["ttl"], 30);
  }

  #[test]
  fn instance_is_the_utf16_sum_modulo_the_url_count() {
    // "ab" = 97 + 98 = 195.
    assert_eq!(instance_for("ab", 2), 1);
    assert_eq!(instance_for("ab", 3), 0);
    assert_eq!(instance_for("anything", 1), 0);
    // U+1F600 is two UTF-16 units, 0xD83D + 0xDE00 = 112189, as JavaScript's charCodeAt sees it.
    assert_eq!(instance_for("\u{1F600}", 1_000_000), 112_189);
    // é (U+00E9) is one unit of 233, not its two UTF-8 bytes.
    assert_eq!(instance_for("\u{e9}", 1000), 233);
  }

  #[test]
  fn every_queue_key_routes_by_its_metadata_key() {
    let keys = QueueKeys::new("a:b");
    for key in [
      &keys.metadata,
      &keys.messages,
      &keys.msgid,
      &keys.toack,
      &keys.available,
    ] {
      assert_eq!(
        queue_route_key(key).as_deref(),
        Some("bus:queue:a:b:metadata")
      );
    }
    assert_eq!(queue_route_key("bus:pubsub:x"), None);
    assert_eq!(queue_route_key("bus:queue:x:other"), None);
  }

  #[test]
  fn plain_url_defaults_port_and_db() {
    let t = RedisTarget::parse("redis://127.0.0.1").unwrap();
    assert_eq!(
      (t.host.as_str(), t.port, t.db, t.tls.is_some()),
      ("127.0.0.1", 6379, 0, false)
    );
    assert_eq!(t.password, None);
  }

  #[test]
  fn lone_word_before_at_is_the_password() {
    let t = RedisTarget::parse("redis://secret@localhost:7000/2").unwrap();
    assert_eq!(t.password.as_deref(), Some("secret"));
    assert_eq!(t.username, None);
    assert_eq!((t.port, t.db), (7000, 2));
  }

  #[test]
  fn user_and_escaped_password_and_tls() {
    let t = RedisTarget::parse("rediss://bob:p%40ss@h:1").unwrap();
    assert_eq!(t.username.as_deref(), Some("bob"));
    assert_eq!(t.password.as_deref(), Some("p@ss"));
    assert_eq!(t.tls, Some(TlsSettings::default()));
    let t = RedisTarget::parse("redis://:pw@[::1]:6380").unwrap();
    assert_eq!((t.host.as_str(), t.port), ("::1", 6380));
    assert_eq!(t.password.as_deref(), Some("pw"));
  }

  #[test]
  fn sentinel_urls_default_to_port_26379() {
    let t = RedisTarget::parse_with_port("redis://10.0.0.1", 26379).unwrap();
    assert_eq!(t.port, 26379);
    let t = RedisTarget::parse_with_port("redis://10.0.0.1:5000", 26379).unwrap();
    assert_eq!(t.port, 5000);
  }

  #[test]
  fn bad_urls_say_what_is_wrong() {
    assert!(matches!(
      RedisTarget::parse("http://x"),
      Err(UrlError::Scheme(_))
    ));
    assert!(matches!(
      RedisTarget::parse("redis://"),
      Err(UrlError::NoHost(_))
    ));
    assert!(matches!(
      RedisTarget::parse("redis://h:0"),
      Err(UrlError::Port(_))
    ));
    assert!(matches!(
      RedisTarget::parse("redis://h:99999"),
      Err(UrlError::Port(_))
    ));
    assert!(matches!(
      RedisTarget::parse("redis://h/x"),
      Err(UrlError::Db(_))
    ));
  }
}

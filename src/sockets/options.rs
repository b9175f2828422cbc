//! The options of a classic socket, as libzmq 4.3 takes them: what a new connection is configured with
//! (identity, mechanism, heartbeats, limits, reconnect timing: read at each bind/connect, so an option set
//! between two connects applies to the later one), the pipes' high-water marks (read when the socket's engine
//! starts, at its first bind or connect), and the switches of the socket state (ROUTER_MANDATORY,
//! XPUB_VERBOSE, REQ_RELAXED...: applied at once).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::driver::{ServerConfig, TcpTuning};
use crate::zmtp::mechanism::zap::InDomain;
use crate::zmtp::mechanism::{Authenticator, MechanismConfig};
use crate::zmtp::security::{CurveParams, PlainParams, SecurityError, SecurityParams};
use crate::zmtp::socket::PipeOptions;
use crate::zmtp::{Heartbeat, Limits, SessionConfig};

/// Every option a classic socket acts on. Durations are libzmq's milliseconds.
#[derive(Debug, Clone)]
pub struct SocketOptions {
  /// `ZMQ_ROUTING_ID` (empty: none).
  pub identity: Bytes,
  /// `ZMQ_SNDHWM` (0: no limit).
  pub sndhwm: usize,
  /// `ZMQ_RCVHWM` (0: no limit).
  pub rcvhwm: usize,
  /// `ZMQ_RECONNECT_IVL`.
  pub reconnect_ivl: Duration,
  /// `ZMQ_RECONNECT_IVL_MAX` (0: no backoff).
  pub reconnect_ivl_max: Duration,
  /// `ZMQ_MAXMSGSIZE` (`None`: -1, the engine's protective default).
  pub maxmsgsize: Option<u64>,
  /// `ZMQ_HANDSHAKE_IVL` (`None`: 0, no limit).
  pub handshake_ivl: Option<Duration>,
  /// `ZMQ_HEARTBEAT_IVL` / `_TIMEOUT` / `_TTL`.
  pub heartbeat: Heartbeat,
  /// `ZMQ_IMMEDIATE`.
  pub immediate: bool,
  /// `ZMQ_ROUTER_MANDATORY`.
  pub router_mandatory: bool,
  /// `ZMQ_XPUB_VERBOSE`.
  pub xpub_verbose: bool,
  /// `ZMQ_XPUB_VERBOSER`.
  pub xpub_verboser: bool,
  /// `ZMQ_REQ_RELAXED`.
  pub req_relaxed: bool,
  /// `ZMQ_REQ_CORRELATE`.
  pub req_correlate: bool,
  /// `ZMQ_CURVE_SERVER`.
  pub curve_server: bool,
  /// `ZMQ_CURVE_PUBLICKEY`, `_SECRETKEY`, `_SERVERKEY` (Z85).
  pub curve_public: Option<String>,
  /// See `curve_public`.
  pub curve_secret: Option<String>,
  /// See `curve_public`.
  pub curve_server_key: Option<String>,
  /// Client keys a CURVE server admits (Z85; `None`: any valid client, libzmq without ZAP).
  pub curve_clients: Option<Vec<String>>,
  /// `ZMQ_PLAIN_SERVER`.
  pub plain_server: bool,
  /// `ZMQ_PLAIN_USERNAME` / `_PASSWORD`.
  pub plain_username: Option<String>,
  /// See `plain_username`.
  pub plain_password: Option<String>,
  /// Users a PLAIN server admits (`None`: nobody, as libzmq with no ZAP handler).
  pub plain_users: Option<HashMap<String, String>>,
  /// `ZMQ_SNDBUF`, `ZMQ_RCVBUF`, `ZMQ_TCP_KEEPALIVE*`, `ZMQ_BACKLOG` (libzmq's defaults: -1, backlog 100).
  pub tcp: TcpTuning,
  /// `ZMQ_ZAP_DOMAIN`: carried in every request to a server's authenticator (empty: none).
  pub zap_domain: Bytes,
  /// A server's own authenticator (a JS function): when set, it alone decides who is admitted.
  pub authenticator: Option<CustomAuthenticator>,
}

/// An authenticator given by the socket's user, shared by the sessions it configures.
#[derive(Clone)]
pub struct CustomAuthenticator(pub Arc<dyn Authenticator>);

impl std::fmt::Debug for CustomAuthenticator {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("CustomAuthenticator")
  }
}

impl Default for SocketOptions {
  fn default() -> Self {
    Self {
      identity: Bytes::new(),
      sndhwm: 1000,
      rcvhwm: 1000,
      reconnect_ivl: Duration::from_millis(100),
      reconnect_ivl_max: Duration::ZERO,
      maxmsgsize: None,
      handshake_ivl: Some(Duration::from_secs(30)),
      heartbeat: Heartbeat::default(),
      immediate: false,
      router_mandatory: false,
      xpub_verbose: false,
      xpub_verboser: false,
      req_relaxed: false,
      req_correlate: false,
      curve_server: false,
      curve_public: None,
      curve_secret: None,
      curve_server_key: None,
      curve_clients: None,
      plain_server: false,
      plain_username: None,
      plain_password: None,
      plain_users: None,
      tcp: TcpTuning {
        backlog: 100,
        ..TcpTuning::default()
      },
      zap_domain: Bytes::new(),
      authenticator: None,
    }
  }
}

fn ms(value: i64) -> Option<Duration> {
  u64::try_from(value).ok().map(Duration::from_millis)
}

/// A server mechanism that asks `custom` instead of its allow-lists.
fn asking(mechanism: MechanismConfig, custom: &Option<CustomAuthenticator>) -> MechanismConfig {
  let Some(custom) = custom else {
    return mechanism;
  };
  let authenticator = Some(custom.0.clone());
  match mechanism {
    MechanismConfig::PlainServer { .. } => MechanismConfig::PlainServer { authenticator },
    MechanismConfig::CurveServer { secret_key, .. } => MechanismConfig::CurveServer {
      secret_key,
      authenticator,
    },
    other => other,
  }
}

/// A server mechanism whose authenticator is asked with the socket's `ZMQ_ZAP_DOMAIN`.
fn in_domain(mechanism: MechanismConfig, domain: &Bytes) -> MechanismConfig {
  if domain.is_empty() {
    return mechanism;
  }
  let wrap = |auth: Option<_>| auth.map(|a| InDomain::wrap(domain.clone(), a));
  match mechanism {
    MechanismConfig::PlainServer { authenticator } => MechanismConfig::PlainServer {
      authenticator: wrap(authenticator),
    },
    MechanismConfig::CurveServer {
      secret_key,
      authenticator,
    } => MechanismConfig::CurveServer {
      secret_key,
      authenticator: wrap(authenticator),
    },
    other => other,
  }
}

impl SocketOptions {
  /// Sets an integer option by its libzmq name (without `ZMQ_`, lower case). Returns false for a name this
  /// table does not hold.
  pub fn set_int(&mut self, name: &str, value: i64) -> bool {
    let count = usize::try_from(value).unwrap_or(0);
    let on = value != 0;
    match name {
      "sndhwm" => self.sndhwm = count,
      "rcvhwm" => self.rcvhwm = count,
      "reconnect_ivl" => self.reconnect_ivl = ms(value).unwrap_or(Duration::ZERO),
      "reconnect_ivl_max" => self.reconnect_ivl_max = ms(value).unwrap_or(Duration::ZERO),
      "maxmsgsize" => self.maxmsgsize = u64::try_from(value).ok(),
      "handshake_ivl" => self.handshake_ivl = ms(value).filter(|d| !d.is_zero()),
      "heartbeat_ivl" => self.heartbeat.ivl = ms(value).filter(|d| !d.is_zero()),
      "heartbeat_timeout" => self.heartbeat.timeout = ms(value).filter(|d| !d.is_zero()),
      "heartbeat_ttl" => self.heartbeat.ttl = ms(value).filter(|d| !d.is_zero()),
      "immediate" => self.immediate = on,
      "router_mandatory" => self.router_mandatory = on,
      "xpub_verbose" => self.xpub_verbose = on,
      "xpub_verboser" => self.xpub_verboser = on,
      "req_relaxed" => self.req_relaxed = on,
      "req_correlate" => self.req_correlate = on,
      "curve_server" => self.curve_server = on,
      "plain_server" => self.plain_server = on,
      _ => return self.set_tcp(name, value),
    }
    true
  }

  /// The tcp options by name (-1 keeps the OS default, as libzmq); false for another name.
  fn set_tcp(&mut self, name: &str, value: i64) -> bool {
    let v = i32::try_from(value.max(-1)).unwrap_or(i32::MAX);
    let t = &mut self.tcp;
    match name {
      "sndbuf" => t.sndbuf = v,
      "rcvbuf" => t.rcvbuf = v,
      "tcp_keepalive" => t.keepalive = v,
      "tcp_keepalive_cnt" => t.keepalive_cnt = v,
      "tcp_keepalive_idle" => t.keepalive_idle = v,
      "tcp_keepalive_intvl" => t.keepalive_intvl = v,
      "backlog" => t.backlog = v,
      _ => return false,
    }
    true
  }

  /// Sets a text or bytes option by its libzmq name. Keys are Z85 text here (the JS facade turns 32-byte
  /// Buffers into Z85); an empty value clears a key or credential. Returns false for an unknown name.
  pub fn set_text(&mut self, name: &str, value: &str) -> bool {
    let text = (!value.is_empty()).then(|| value.to_string());
    match name {
      "curve_publickey" => self.curve_public = text,
      "curve_secretkey" => self.curve_secret = text,
      "curve_serverkey" => self.curve_server_key = text,
      "plain_username" => self.plain_username = text,
      "plain_password" => self.plain_password = text,
      "zap_domain" => self.zap_domain = Bytes::copy_from_slice(value.as_bytes()),
      _ => return false,
    }
    true
  }

  /// The security parameters these options describe, for the server or the client role (libzmq: the role
  /// follows `CURVE_SERVER`/`PLAIN_SERVER`, not bind or connect).
  fn security(&self) -> (SecurityParams, bool) {
    let curve = |clients| CurveParams {
      public_key: self.curve_public.clone(),
      secret_key: self.curve_secret.clone(),
      server_key: self.curve_server_key.clone(),
      clients,
    };
    if self.curve_server {
      let params = SecurityParams {
        curve: Some(curve(self.curve_clients.clone())),
        plain: None,
      };
      return (params, true);
    }
    if self.curve_server_key.is_some() {
      let params = SecurityParams {
        curve: Some(curve(None)),
        plain: None,
      };
      return (params, false);
    }
    let plain = PlainParams {
      username: self.plain_username.clone(),
      password: self.plain_password.clone(),
      users: Some(self.plain_users.clone().unwrap_or_default()),
    };
    match (self.plain_server, self.plain_username.is_some()) {
      (true, _) => (
        SecurityParams {
          curve: None,
          plain: Some(plain),
        },
        true,
      ),
      (false, true) => (
        SecurityParams {
          curve: None,
          plain: Some(plain),
        },
        false,
      ),
      (false, false) => (SecurityParams::default(), false),
    }
  }

  /// The session configuration of a new connection of a socket whose ZMTP type is `socket_type`.
  ///
  /// # Errors
  /// A malformed or missing key (`SecurityError`).
  pub fn session(&self, socket_type: &str) -> Result<SessionConfig, SecurityError> {
    let (params, server) = self.security();
    let mut session = SessionConfig::new(socket_type);
    session.mechanism = if server {
      in_domain(
        asking(params.server()?, &self.authenticator),
        &self.zap_domain,
      )
    } else {
      params.client()?
    };
    session.identity = self.identity.clone();
    session.heartbeat = self.heartbeat.clone();
    let mut limits = Limits::default();
    if let Some(max) = self.maxmsgsize {
      limits.max_msg_size = max;
    }
    // 0 means no handshake limit in libzmq; a day stands for it.
    limits.handshake_timeout = self.handshake_ivl.unwrap_or(Duration::from_secs(86_400));
    session.limits = limits;
    Ok(session)
  }

  /// Updates a driver configuration for the next bind or connect.
  ///
  /// # Errors
  /// As [`SocketOptions::session`].
  pub fn apply(&self, config: &mut ServerConfig, socket_type: &str) -> Result<(), SecurityError> {
    config.session = self.session(socket_type)?;
    config.hwm = self.sndhwm.max(1);
    config.reconnect_ivl = self.reconnect_ivl;
    config.reconnect_ivl_max = self.reconnect_ivl_max;
    config.immediate = self.immediate;
    config.tcp = self.tcp;
    Ok(())
  }

  /// The pipes' high-water marks.
  pub fn pipes(&self) -> PipeOptions {
    PipeOptions {
      sndhwm: self.sndhwm,
      rcvhwm: self.rcvhwm,
      ..PipeOptions::default()
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::zmtp::mechanism::MechanismConfig;

  #[test]
  fn options_by_name_change_what_a_new_connection_gets() {
    let mut o = SocketOptions::default();
    assert!(o.set_int("heartbeat_ivl", 250));
    assert!(o.set_int("maxmsgsize", 1024));
    assert!(o.set_int("handshake_ivl", 0));
    assert!(!o.set_int("bogus", 1));
    let s = o.session("DEALER").unwrap();
    assert_eq!(s.heartbeat.ivl, Some(Duration::from_millis(250)));
    assert_eq!(s.limits.max_msg_size, 1024);
    assert!(s.limits.handshake_timeout >= Duration::from_secs(3600));
  }

  #[test]
  fn tcp_options_by_name_reach_the_driver_config_with_libzmq_defaults() {
    let mut o = SocketOptions::default();
    assert_eq!(
      (o.tcp.backlog, o.tcp.sndbuf, o.tcp.keepalive),
      (100, -1, -1)
    );
    for (name, v) in [("backlog", 7), ("sndbuf", 65536), ("tcp_keepalive", 1)] {
      assert!(o.set_int(name, v), "{name}");
    }
    assert!(o.set_int("tcp_keepalive_idle", 30));
    let mut config = ServerConfig::default();
    o.apply(&mut config, "DEALER").unwrap();
    assert_eq!(config.tcp.backlog, 7);
    assert_eq!(config.tcp.sndbuf, 65536);
    assert_eq!((config.tcp.keepalive, config.tcp.keepalive_idle), (1, 30));
  }

  #[test]
  fn plain_server_without_users_admits_nobody_and_a_username_makes_a_client() {
    let mut o = SocketOptions::default();
    o.set_int("plain_server", 1);
    assert!(matches!(
      o.session("REP").unwrap().mechanism,
      MechanismConfig::PlainServer {
        authenticator: Some(_)
      }
    ));
    let mut c = SocketOptions::default();
    c.set_text("plain_username", "admin");
    assert!(matches!(
      c.session("REQ").unwrap().mechanism,
      MechanismConfig::PlainClient { .. }
    ));
  }

  #[test]
  fn a_zap_domain_reaches_the_plain_servers_authenticator_and_it_still_decides() {
    use crate::zmtp::greeting::MechanismName;
    use crate::zmtp::mechanism::zap::{ZapCredentials, ZapRequest};
    let mut o = SocketOptions::default();
    o.set_int("plain_server", 1);
    assert!(o.set_text("zap_domain", "global"));
    o.plain_users = Some(HashMap::from([("admin".to_string(), "pw".to_string())]));
    let MechanismConfig::PlainServer {
      authenticator: Some(auth),
    } = o.session("REP").unwrap().mechanism
    else {
      panic!("not a plain server with an authenticator");
    };
    let ask = |pw: &[u8]| {
      let credentials = ZapCredentials::Plain {
        username: b"admin",
        password: pw,
      };
      let request = ZapRequest {
        mechanism: MechanismName::Plain,
        credentials,
        domain: b"",
      };
      auth.authenticate(&request).status
    };
    assert_eq!((ask(b"pw"), ask(b"bad")), (200, 400));
    assert_eq!(&o.zap_domain[..], b"global");
  }

  #[test]
  fn a_custom_authenticator_decides_instead_of_the_allow_lists_and_sees_the_domain() {
    use crate::zmtp::greeting::MechanismName;
    use crate::zmtp::mechanism::zap::{ZapCredentials, ZapReply, ZapRequest};
    let mut o = SocketOptions::default();
    o.set_int("plain_server", 1);
    assert!(o.set_text("zap_domain", "inner"));
    o.plain_users = Some(HashMap::from([("admin".to_string(), "pw".to_string())]));
    let custom = |req: &ZapRequest<'_>| match req.credentials {
      ZapCredentials::Plain {
        username: b"guest", ..
      } if req.domain == b"inner" => ZapReply::allow("g"),
      _ => ZapReply::deny(),
    };
    o.authenticator = Some(CustomAuthenticator(Arc::new(custom)));
    let MechanismConfig::PlainServer {
      authenticator: Some(auth),
    } = o.session("REP").unwrap().mechanism
    else {
      panic!("not a plain server with an authenticator");
    };
    let ask = |user: &[u8], pw: &[u8]| {
      let credentials = ZapCredentials::Plain {
        username: user,
        password: pw,
      };
      let request = ZapRequest {
        mechanism: MechanismName::Plain,
        credentials,
        domain: b"",
      };
      auth.authenticate(&request)
    };
    assert_eq!(ask(b"guest", b"any"), ZapReply::allow("g"));
    assert_eq!(
      ask(b"admin", b"pw").status,
      400,
      "the allow-list no longer decides"
    );
  }

  #[test]
  fn a_curve_server_needs_its_secret_key() {
    let mut o = SocketOptions::default();
    o.set_int("curve_server", 1);
    assert_eq!(
      o.session("ROUTER").unwrap_err(),
      SecurityError::Missing("curve.secretKey")
    );
  }
}

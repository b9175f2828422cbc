//! PLAIN (RFC 24): C: HELLO(user, pass) -> S: WELCOME -> C: INITIATE(props) -> S: READY(props) or ERROR.
//! The server asks an [`Authenticator`]; with none it refuses every client, as a libzmq PLAIN server without a
//! ZAP handler does.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::super::command::{build, split, Command, Properties};
use super::super::error::{Result, ZmtpError};
use super::super::greeting::MechanismName;
use super::zap::{ask, Authenticator, ZapCredentials, ZapRequest};
use super::Mechanism;

fn unexpected(body: &[u8]) -> ZmtpError {
  let name = split(body).map(|(n, _)| n).unwrap_or(b"");
  ZmtpError::UnexpectedCommand(String::from_utf8_lossy(name).into_owned())
}

/// Client states, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
  SendHello,
  WaitWelcome,
  SendInitiate,
  WaitReady,
  Ready,
}

/// PLAIN client.
#[derive(Debug)]
pub struct PlainClient {
  local: Properties,
  username: Bytes,
  password: Bytes,
  state: ClientState,
  peer: Option<Properties>,
}

impl PlainClient {
  /// A client presenting `username`/`password` (each cut to 255 bytes, the wire's limit).
  pub fn new(local: Properties, username: Bytes, password: Bytes) -> Self {
    Self {
      local,
      username,
      password,
      state: ClientState::SendHello,
      peer: None,
    }
  }
}

impl Mechanism for PlainClient {
  fn name(&self) -> MechanismName {
    MechanismName::Plain
  }

  fn as_server(&self) -> bool {
    false
  }

  fn next_handshake_command(&mut self) -> Result<Option<BytesMut>> {
    match self.state {
      ClientState::SendHello => {
        let user = &self.username[..self.username.len().min(255)];
        let pass = &self.password[..self.password.len().min(255)];
        let mut data = vec![user.len() as u8];
        data.extend_from_slice(user);
        data.push(pass.len() as u8);
        data.extend_from_slice(pass);
        self.state = ClientState::WaitWelcome;
        Ok(Some(build(b"HELLO", &data)))
      }
      ClientState::SendInitiate => {
        let mut out = build(b"INITIATE", b"");
        self.local.encode(&mut out);
        self.state = ClientState::WaitReady;
        Ok(Some(out))
      }
      _ => Ok(None),
    }
  }

  fn process_handshake_command(&mut self, body: &[u8]) -> Result<()> {
    if let Ok(Command::Error(reason)) = Command::parse(body) {
      return Err(ZmtpError::PeerError(reason));
    }
    match self.state {
      ClientState::WaitWelcome if body == b"\x07WELCOME" => self.state = ClientState::SendInitiate,
      ClientState::WaitReady => match Command::parse(body)? {
        Command::Ready(props) => {
          self.peer = Some(props);
          self.state = ClientState::Ready;
        }
        _ => return Err(unexpected(body)),
      },
      _ => return Err(unexpected(body)),
    }
    Ok(())
  }

  fn is_ready(&self) -> bool {
    self.state == ClientState::Ready
  }

  fn peer_properties(&self) -> Option<&Properties> {
    self.peer.as_ref()
  }
}

/// Server states, in order (`SendError` ends it).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerState {
  WaitHello,
  SendWelcome,
  WaitInitiate,
  SendReady,
  Ready,
  SendError(String),
  Failed,
}

/// PLAIN server.
pub struct PlainServer {
  local: Properties,
  authenticator: Option<Arc<dyn Authenticator>>,
  state: ServerState,
  peer: Option<Properties>,
  user_id: Option<Bytes>,
}

impl PlainServer {
  /// A server asking `authenticator` about each client (none: refuse all).
  pub fn new(local: Properties, authenticator: Option<Arc<dyn Authenticator>>) -> Self {
    Self {
      local,
      authenticator,
      state: ServerState::WaitHello,
      peer: None,
      user_id: None,
    }
  }

  fn process_hello(&mut self, data: &[u8]) -> Result<()> {
    let (user, rest) = take_short(data).ok_or(ZmtpError::Malformed("PLAIN HELLO"))?;
    let (pass, rest) = take_short(rest).ok_or(ZmtpError::Malformed("PLAIN HELLO"))?;
    if !rest.is_empty() {
      return Err(ZmtpError::Malformed("PLAIN HELLO"));
    }
    let Some(auth) = self.authenticator.as_deref() else {
      // libzmq without a ZAP handler closes without ERROR.
      self.state = ServerState::Failed;
      return Err(ZmtpError::AuthRefused(500));
    };
    let credentials = ZapCredentials::Plain {
      username: user,
      password: pass,
    };
    match ask(
      auth,
      &ZapRequest {
        mechanism: MechanismName::Plain,
        credentials,
        domain: b"",
      },
    ) {
      Ok(user_id) => {
        self.user_id = Some(user_id);
        self.state = ServerState::SendWelcome;
        Ok(())
      }
      Err((err, reason)) => {
        self.state = reason.map_or(ServerState::Failed, ServerState::SendError);
        Err(err)
      }
    }
  }
}

/// Reads a u8-length-prefixed field.
fn take_short(data: &[u8]) -> Option<(&[u8], &[u8])> {
  let (&len, rest) = data.split_first()?;
  (rest.len() >= usize::from(len)).then(|| rest.split_at(usize::from(len)))
}

impl Mechanism for PlainServer {
  fn name(&self) -> MechanismName {
    MechanismName::Plain
  }

  fn as_server(&self) -> bool {
    true
  }

  fn next_handshake_command(&mut self) -> Result<Option<BytesMut>> {
    let (cmd, next) = match &self.state {
      ServerState::SendWelcome => (build(b"WELCOME", b""), ServerState::WaitInitiate),
      ServerState::SendReady => (
        Command::Ready(self.local.clone()).encode(),
        ServerState::Ready,
      ),
      ServerState::SendError(reason) => {
        (Command::Error(reason.clone()).encode(), ServerState::Failed)
      }
      _ => return Ok(None),
    };
    self.state = next;
    Ok(Some(cmd))
  }

  fn process_handshake_command(&mut self, body: &[u8]) -> Result<()> {
    let (name, data) = split(body)?;
    match (&self.state, name) {
      (ServerState::WaitHello, b"HELLO") => self.process_hello(data),
      (ServerState::WaitInitiate, b"INITIATE") => {
        self.peer = Some(Properties::parse(data)?);
        self.state = ServerState::SendReady;
        Ok(())
      }
      _ => Err(unexpected(body)),
    }
  }

  fn is_ready(&self) -> bool {
    self.state == ServerState::Ready
  }

  fn peer_properties(&self) -> Option<&Properties> {
    self.peer.as_ref()
  }

  fn user_id(&self) -> Option<&Bytes> {
    self.user_id.as_ref()
  }
}

#[cfg(test)]
mod tests {
  use super::super::testutil::handshake;
  use super::super::zap::ZapReply;
  use super::*;

  fn admin_only() -> Option<Arc<dyn Authenticator>> {
    Some(Arc::new(|req: &ZapRequest<'_>| match req.credentials {
      ZapCredentials::Plain {
        username: b"admin",
        password: b"secret",
      } => ZapReply::allow("admin"),
      _ => ZapReply::deny(),
    }))
  }

  fn client(user: &'static [u8], pass: &'static [u8]) -> PlainClient {
    PlainClient::new(
      Properties::for_socket("DEALER", b""),
      Bytes::from_static(user),
      Bytes::from_static(pass),
    )
  }

  #[test]
  fn client_hello_carries_length_prefixed_credentials() {
    let mut c = client(b"admin", b"secret");
    assert_eq!(
      &c.next_handshake_command().unwrap().unwrap()[..],
      b"\x05HELLO\x05admin\x06secret"
    );
    assert_eq!(c.next_handshake_command().unwrap(), None);
  }

  #[test]
  fn right_password_completes_with_user_id_and_properties() {
    let mut c = client(b"admin", b"secret");
    let mut s = PlainServer::new(Properties::for_socket("ROUTER", b""), admin_only());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.user_id().map(|u| &u[..]), Some(&b"admin"[..]));
    assert_eq!(s.peer_properties().unwrap().socket_type(), Some("DEALER"));
    assert_eq!(c.peer_properties().unwrap().socket_type(), Some("ROUTER"));
  }

  #[test]
  fn wrong_password_is_refused_with_error_400() {
    let mut s = PlainServer::new(Properties::default(), admin_only());
    let err = s
      .process_handshake_command(b"\x05HELLO\x05admin\x05wrong")
      .unwrap_err();
    assert_eq!(err, ZmtpError::AuthRefused(400));
    assert_eq!(
      &s.next_handshake_command().unwrap().unwrap()[..],
      b"\x05ERROR\x03400"
    );
    assert_eq!(s.next_handshake_command().unwrap(), None);
  }

  #[test]
  fn the_client_sees_the_servers_error() {
    let mut c = client(b"admin", b"nope");
    let mut s = PlainServer::new(Properties::default(), admin_only());
    assert_eq!(handshake(&mut c, &mut s), Err(ZmtpError::AuthRefused(400)));
    let error = s.next_handshake_command().unwrap().unwrap();
    assert_eq!(
      c.process_handshake_command(&error),
      Err(ZmtpError::PeerError("400".into()))
    );
  }

  #[test]
  fn a_server_without_authenticator_refuses_silently() {
    let mut s = PlainServer::new(Properties::default(), None);
    assert!(s.process_handshake_command(b"\x05HELLO\x01a\x01b").is_err());
    assert_eq!(s.next_handshake_command().unwrap(), None);
  }

  #[test]
  fn hello_with_lengths_past_the_end_or_leftovers_is_refused() {
    for hello in [
      &b"\x05HELLO\x09ab"[..],
      b"\x05HELLO\x01a\x09b",
      b"\x05HELLO\x01a\x01bX",
      b"\x05HELLO",
    ] {
      let mut s = PlainServer::new(Properties::default(), admin_only());
      assert_eq!(
        s.process_handshake_command(hello),
        Err(ZmtpError::Malformed("PLAIN HELLO"))
      );
    }
  }

  #[test]
  fn welcome_with_trailing_bytes_is_refused() {
    let mut c = client(b"a", b"b");
    c.next_handshake_command().unwrap();
    assert!(c.process_handshake_command(b"\x07WELCOMEx").is_err());
  }

  #[test]
  fn initiate_before_hello_is_refused() {
    let mut s = PlainServer::new(Properties::default(), admin_only());
    assert_eq!(
      s.process_handshake_command(b"\x08INITIATE"),
      Err(ZmtpError::UnexpectedCommand("INITIATE".into()))
    );
  }
}

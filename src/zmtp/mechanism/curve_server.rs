//! CURVE server side: (HELLO) -> WELCOME with a cookie -> (INITIATE: cookie, vouch, ZAP) -> READY or ERROR.
//!
//! The cookie key K is fresh per WELCOME and lives only in this connection's state; INITIATE's cookie must
//! open with it and carry this connection's C' and s'. The vouch must name the HELLO's C'.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use crypto_box::aead::{Aead, KeyInit, OsRng};
use crypto_box::{PublicKey, SecretKey};
use crypto_secretbox::XSalsa20Poly1305;

use super::super::command::{build, split, Command, Properties};
use super::super::error::{Result, ZmtpError};
use super::super::frame::{Frame, FrameMut};
use super::super::greeting::MechanismName;
use super::curve::{key_at, nonce, open, random, seal, Traffic};
use super::zap::{ask, Authenticator, ZapCredentials, ZapRequest};
use super::Mechanism;

enum ServerState {
  WaitHello,
  SendWelcome,
  WaitInitiate,
  SendReady { initiate_nonce: u64 },
  Ready,
  SendError(String),
  Failed,
}

/// CURVE server.
pub struct CurveServer {
  local: Properties,
  secret: SecretKey,
  authenticator: Option<Arc<dyn Authenticator>>,
  state: ServerState,
  client_short: Option<PublicKey>,
  short_secret: SecretKey,
  cookie_key: [u8; 32],
  traffic: Option<Traffic>,
  peer: Option<Properties>,
  user_id: Option<Bytes>,
}

impl CurveServer {
  /// A server with long-term secret key `secret_key`, asking `authenticator` (none: accept any valid client).
  pub fn new(
    local: Properties,
    secret_key: [u8; 32],
    authenticator: Option<Arc<dyn Authenticator>>,
  ) -> Self {
    Self {
      local,
      secret: SecretKey::from(secret_key),
      authenticator,
      state: ServerState::WaitHello,
      client_short: None,
      short_secret: SecretKey::generate(&mut OsRng),
      cookie_key: random(),
      traffic: None,
      peer: None,
      user_id: None,
    }
  }

  fn process_hello(&mut self, body: &[u8]) -> Result<()> {
    // 6 name + 2 version + 72 padding + 32 C' + 8 nonce + 80 box.
    if body.len() != 200 || &body[..6] != b"\x05HELLO" || body[6..8] != [1, 0] {
      return Err(ZmtpError::Malformed("CURVE HELLO"));
    }
    let client_short = key_at(body, 80);
    let n = nonce(b"CurveZMQHELLO---", &body[112..120]);
    let sig = open(
      &client_short,
      &self.secret,
      &n,
      &body[120..],
      "HELLO box did not open",
    )?;
    if sig != [0u8; 64] {
      return Err(ZmtpError::Crypto("HELLO signature is not zeros"));
    }
    self.client_short = Some(client_short);
    self.state = ServerState::SendWelcome;
    Ok(())
  }

  fn welcome(&self) -> Result<BytesMut> {
    let client_short = self.client_short.as_ref().ok_or(ZmtpError::Closed)?;
    let mut cookie_plain = client_short.as_bytes().to_vec();
    cookie_plain.extend_from_slice(&self.short_secret.to_bytes());
    let cookie_nonce: [u8; 16] = random();
    let cipher = XSalsa20Poly1305::new(&self.cookie_key.into());
    let sealed = cipher.encrypt(&nonce(b"COOKIE--", &cookie_nonce), cookie_plain.as_slice());
    let sealed = sealed.map_err(|_| ZmtpError::Crypto("seal failed"))?;
    let mut plain = self.short_secret.public_key().as_bytes().to_vec();
    plain.extend_from_slice(&cookie_nonce);
    plain.extend_from_slice(&sealed);
    let long: [u8; 16] = random();
    let boxed = seal(
      client_short,
      &self.secret,
      &nonce(b"WELCOME-", &long),
      &plain,
    )?;
    let mut data = long.to_vec();
    data.extend_from_slice(&boxed);
    Ok(build(b"WELCOME", &data))
  }

  fn process_initiate(&mut self, body: &[u8]) -> Result<()> {
    // 9 name + 96 cookie + 8 nonce + box of at least 16 + 32 + 16 + 80.
    if body.len() < 257 || &body[..9] != b"\x08INITIATE" {
      return Err(ZmtpError::Malformed("CURVE INITIATE"));
    }
    let client_short = self.client_short.clone().ok_or(ZmtpError::Closed)?;
    self.check_cookie(&client_short, &body[9..105])?;
    let short = &body[105..113];
    let n = nonce(b"CurveZMQINITIATE", short);
    let plain = open(
      &client_short,
      &self.short_secret,
      &n,
      &body[113..],
      "INITIATE box did not open",
    )?;
    if plain.len() < 128 {
      return Err(ZmtpError::Malformed("CURVE INITIATE"));
    }
    let client = key_at(&plain, 0);
    let vn = nonce(b"VOUCH---", &plain[32..48]);
    let vouch = open(
      &client,
      &self.short_secret,
      &vn,
      &plain[48..128],
      "vouch did not open",
    )?;
    if vouch[..32] != client_short.as_bytes()[..] {
      return Err(ZmtpError::Crypto("vouch names another short-term key"));
    }
    let props = Properties::parse(&plain[128..])?;
    self.authenticate(client.as_bytes())?;
    self.peer = Some(props);
    let mut be = [0u8; 8];
    be.copy_from_slice(short);
    self.state = ServerState::SendReady {
      initiate_nonce: u64::from_be_bytes(be),
    };
    Ok(())
  }

  fn check_cookie(&self, client_short: &PublicKey, cookie: &[u8]) -> Result<()> {
    let cipher = XSalsa20Poly1305::new(&self.cookie_key.into());
    let opened = cipher.decrypt(&nonce(b"COOKIE--", &cookie[..16]), &cookie[16..]);
    let opened = opened.map_err(|_| ZmtpError::Crypto("cookie did not open"))?;
    let ours = self.short_secret.to_bytes();
    if opened[..32] != client_short.as_bytes()[..] || opened[32..] != ours[..] {
      return Err(ZmtpError::Crypto("cookie is not this connection's"));
    }
    Ok(())
  }

  fn authenticate(&mut self, client: &[u8; 32]) -> Result<()> {
    let Some(auth) = self.authenticator.as_deref() else {
      return Ok(());
    };
    let request = ZapRequest {
      mechanism: MechanismName::Curve,
      credentials: ZapCredentials::Curve { public_key: client },
      domain: b"",
    };
    match ask(auth, &request) {
      Ok(user_id) => {
        self.user_id = Some(user_id);
        Ok(())
      }
      Err((err, reason)) => {
        self.state = reason.map_or(ServerState::Failed, ServerState::SendError);
        Err(err)
      }
    }
  }

  fn ready(&mut self, initiate_nonce: u64) -> Result<BytesMut> {
    let client_short = self.client_short.clone().ok_or(ZmtpError::Closed)?;
    let mut meta = BytesMut::new();
    self.local.encode(&mut meta);
    let short = 1u64.to_be_bytes();
    let boxed = seal(
      &client_short,
      &self.short_secret,
      &nonce(b"CurveZMQREADY---", &short),
      &meta,
    )?;
    let mut data = short.to_vec();
    data.extend_from_slice(&boxed);
    self.traffic = Some(Traffic::new(
      &client_short,
      &self.short_secret,
      true,
      2,
      initiate_nonce,
    ));
    Ok(build(b"READY", &data))
  }
}

impl Mechanism for CurveServer {
  fn name(&self) -> MechanismName {
    MechanismName::Curve
  }

  fn as_server(&self) -> bool {
    true
  }

  fn next_handshake_command(&mut self) -> Result<Option<BytesMut>> {
    match std::mem::replace(&mut self.state, ServerState::Failed) {
      ServerState::SendWelcome => {
        self.state = ServerState::WaitInitiate;
        self.welcome().map(Some)
      }
      ServerState::SendReady { initiate_nonce } => {
        self.state = ServerState::Ready;
        self.ready(initiate_nonce).map(Some)
      }
      ServerState::SendError(reason) => Ok(Some(Command::Error(reason).encode())),
      other => {
        self.state = other;
        Ok(None)
      }
    }
  }

  fn process_handshake_command(&mut self, body: &[u8]) -> Result<()> {
    match self.state {
      ServerState::WaitHello => self.process_hello(body),
      ServerState::WaitInitiate => self.process_initiate(body),
      _ => {
        let name = split(body).map(|(n, _)| n).unwrap_or(b"");
        Err(ZmtpError::UnexpectedCommand(
          String::from_utf8_lossy(name).into_owned(),
        ))
      }
    }
  }

  fn is_ready(&self) -> bool {
    matches!(self.state, ServerState::Ready)
  }

  fn peer_properties(&self) -> Option<&Properties> {
    self.peer.as_ref()
  }

  fn user_id(&self) -> Option<&Bytes> {
    self.user_id.as_ref()
  }

  fn overhead(&self) -> u64 {
    super::curve::MESSAGE_OVERHEAD
  }

  fn encode(&mut self, frame: Frame) -> Result<Frame> {
    super::curve::seal_traffic(&mut self.traffic, frame)
  }

  fn decode(&mut self, frame: Frame) -> Result<Frame> {
    super::curve::open_traffic(&mut self.traffic, frame)
  }

  fn encode_into(
    &mut self,
    out: &mut BytesMut,
    more: bool,
    command: bool,
    body: &[u8],
  ) -> Result<()> {
    super::curve::traffic(&mut self.traffic)?.seal_into(out, more, command, body)
  }

  fn decode_mut(&mut self, frame: FrameMut) -> Result<Frame> {
    super::curve::traffic(&mut self.traffic)?.open_in_place(frame.body)
  }
}

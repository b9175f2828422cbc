//! CURVE (RFC 26): shared box helpers and the client side (the MESSAGE codec is in `curve_traffic`).
//!
//! Client: HELLO -> (WELCOME) -> INITIATE -> (READY). Short nonces count per direction from 1 and carry on
//! into traffic (client HELLO=1, INITIATE=2, MESSAGEs from 3; server READY=1, MESSAGEs from 2). A MESSAGE
//! nonce must be strictly greater than the last one seen. Inner flags are `01` MORE and `02` COMMAND; the
//! outer frame is a plain data frame, as libzmq sends it.

use bytes::BytesMut;
use crypto_box::aead::rand_core::RngCore;
use crypto_box::aead::{Aead, OsRng};
use crypto_box::{Nonce, PublicKey, SalsaBox, SecretKey};

use super::super::command::{build, split, Command, Properties};
use super::super::error::{Result, ZmtpError};
use super::super::frame::{Frame, FrameMut};
use super::super::greeting::MechanismName;
pub(super) use super::curve_traffic::{Traffic, MESSAGE_OVERHEAD};
use super::Mechanism;

/// A long-term CURVE key pair (raw 32-byte keys; see [`super::z85`] for the 40-char form).
#[derive(Clone)]
pub struct CurveKeyPair {
  /// Public key.
  pub public: [u8; 32],
  /// Secret key.
  pub secret: [u8; 32],
}

impl std::fmt::Debug for CurveKeyPair {
  // The secret never reaches a log.
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("CurveKeyPair")
      .field("public", &self.public)
      .finish_non_exhaustive()
  }
}

/// A fresh random key pair (`zmq_curve_keypair`).
pub fn curve_keypair() -> CurveKeyPair {
  let secret = SecretKey::generate(&mut OsRng);
  CurveKeyPair {
    public: *secret.public_key().as_bytes(),
    secret: secret.to_bytes(),
  }
}

/// The public key that belongs to `secret` (`zmq_curve_public`).
pub fn public_key_of(secret: &[u8; 32]) -> [u8; 32] {
  *SecretKey::from(*secret).public_key().as_bytes()
}

/// `n` random bytes for long nonces and cookie keys.
pub(super) fn random<const N: usize>() -> [u8; N] {
  let mut out = [0u8; N];
  OsRng.fill_bytes(&mut out);
  out
}

/// The 24-byte nonce `prefix || suffix`.
pub(super) fn nonce(prefix: &[u8], suffix: &[u8]) -> Nonce {
  let mut n = Nonce::default();
  n[..prefix.len()].copy_from_slice(prefix);
  n[prefix.len()..].copy_from_slice(suffix);
  n
}

/// `Box[plain](us -> them)`: MAC(16) || ciphertext.
pub(super) fn seal(them: &PublicKey, us: &SecretKey, n: &Nonce, plain: &[u8]) -> Result<Vec<u8>> {
  SalsaBox::new(them, us)
    .encrypt(n, plain)
    .map_err(|_| ZmtpError::Crypto("seal failed"))
}

/// Opens `Box[...](them -> us)`.
pub(super) fn open(
  them: &PublicKey,
  us: &SecretKey,
  n: &Nonce,
  boxed: &[u8],
  what: &'static str,
) -> Result<Vec<u8>> {
  SalsaBox::new(them, us)
    .decrypt(n, boxed)
    .map_err(|_| ZmtpError::Crypto(what))
}

/// Reads 32 bytes at `at` as a public key.
pub(super) fn key_at(data: &[u8], at: usize) -> PublicKey {
  let mut k = [0u8; 32];
  k.copy_from_slice(&data[at..at + 32]);
  PublicKey::from(k)
}

/// Seals a traffic frame with the codec of a finished handshake (either side).
pub(super) fn seal_traffic(traffic: &mut Option<Traffic>, frame: Frame) -> Result<Frame> {
  Ok(self::traffic(traffic)?.encode(frame))
}

/// Opens a MESSAGE with the codec of a finished handshake (either side).
pub(super) fn open_traffic(traffic: &mut Option<Traffic>, frame: Frame) -> Result<Frame> {
  self::traffic(traffic)?.decode(frame)
}

/// The traffic codec of a finished handshake (either side), or [`ZmtpError::Closed`] before it.
pub(super) fn traffic(traffic: &mut Option<Traffic>) -> Result<&mut Traffic> {
  traffic.as_mut().ok_or(ZmtpError::Closed)
}

enum ClientState {
  SendHello,
  WaitWelcome,
  SendInitiate {
    server_short: PublicKey,
    cookie: Vec<u8>,
  },
  WaitReady {
    server_short: PublicKey,
  },
  Ready,
}

/// CURVE client.
pub struct CurveClient {
  local: Properties,
  public: PublicKey,
  secret: SecretKey,
  server: PublicKey,
  short_public: PublicKey,
  short_secret: SecretKey,
  state: ClientState,
  send_nonce: u64,
  traffic: Option<Traffic>,
  peer: Option<Properties>,
}

impl CurveClient {
  /// A client with long-term `keys` expecting the server's long-term `server_key`.
  pub fn new(local: Properties, keys: &CurveKeyPair, server_key: [u8; 32]) -> Self {
    let short_secret = SecretKey::generate(&mut OsRng);
    Self {
      local,
      public: PublicKey::from(keys.public),
      secret: SecretKey::from(keys.secret),
      server: PublicKey::from(server_key),
      short_public: short_secret.public_key(),
      short_secret,
      state: ClientState::SendHello,
      send_nonce: 1,
      traffic: None,
      peer: None,
    }
  }

  fn next_short(&mut self) -> [u8; 8] {
    let n = self.send_nonce.to_be_bytes();
    self.send_nonce += 1;
    n
  }

  fn hello(&mut self) -> Result<BytesMut> {
    let short = self.next_short();
    let sig = seal(
      &self.server,
      &self.short_secret,
      &nonce(b"CurveZMQHELLO---", &short),
      &[0u8; 64],
    )?;
    let mut data = Vec::with_capacity(194);
    data.extend_from_slice(&[1, 0]);
    data.extend_from_slice(&[0u8; 72]);
    data.extend_from_slice(self.short_public.as_bytes());
    data.extend_from_slice(&short);
    data.extend_from_slice(&sig);
    Ok(build(b"HELLO", &data))
  }

  fn initiate(&mut self, server_short: &PublicKey, cookie: &[u8]) -> Result<BytesMut> {
    let vouch_nonce: [u8; 16] = random();
    let mut vouched = self.short_public.as_bytes().to_vec();
    vouched.extend_from_slice(self.server.as_bytes());
    let vouch = seal(
      server_short,
      &self.secret,
      &nonce(b"VOUCH---", &vouch_nonce),
      &vouched,
    )?;
    let mut plain = self.public.as_bytes().to_vec();
    plain.extend_from_slice(&vouch_nonce);
    plain.extend_from_slice(&vouch);
    let mut meta = BytesMut::new();
    self.local.encode(&mut meta);
    plain.extend_from_slice(&meta);
    let short = self.next_short();
    let boxed = seal(
      server_short,
      &self.short_secret,
      &nonce(b"CurveZMQINITIATE", &short),
      &plain,
    )?;
    let mut data = cookie.to_vec();
    data.extend_from_slice(&short);
    data.extend_from_slice(&boxed);
    Ok(build(b"INITIATE", &data))
  }

  fn process_welcome(&mut self, body: &[u8]) -> Result<()> {
    if body.len() != 168 || &body[..8] != b"\x07WELCOME" {
      return Err(ZmtpError::Malformed("CURVE WELCOME"));
    }
    let n = nonce(b"WELCOME-", &body[8..24]);
    let plain = open(
      &self.server,
      &self.short_secret,
      &n,
      &body[24..],
      "WELCOME box did not open",
    )?;
    // A box of 144 bytes opens to exactly 128: S' (32) + cookie (96).
    let server_short = key_at(&plain, 0);
    self.state = ClientState::SendInitiate {
      server_short,
      cookie: plain[32..].to_vec(),
    };
    Ok(())
  }

  fn process_ready(&mut self, server_short: PublicKey, body: &[u8]) -> Result<()> {
    if body.len() < 30 || &body[..6] != b"\x05READY" {
      return Err(ZmtpError::Malformed("CURVE READY"));
    }
    let n = nonce(b"CurveZMQREADY---", &body[6..14]);
    let meta = open(
      &server_short,
      &self.short_secret,
      &n,
      &body[14..],
      "READY box did not open",
    )?;
    self.peer = Some(Properties::parse(&meta)?);
    let mut last = [0u8; 8];
    last.copy_from_slice(&body[6..14]);
    let last = u64::from_be_bytes(last);
    self.traffic = Some(Traffic::new(
      &server_short,
      &self.short_secret,
      false,
      self.send_nonce,
      last,
    ));
    self.state = ClientState::Ready;
    Ok(())
  }
}

impl Mechanism for CurveClient {
  fn name(&self) -> MechanismName {
    MechanismName::Curve
  }

  fn as_server(&self) -> bool {
    false
  }

  fn next_handshake_command(&mut self) -> Result<Option<BytesMut>> {
    match std::mem::replace(&mut self.state, ClientState::Ready) {
      ClientState::SendHello => {
        self.state = ClientState::WaitWelcome;
        self.hello().map(Some)
      }
      ClientState::SendInitiate {
        server_short,
        cookie,
      } => {
        let cmd = self.initiate(&server_short, &cookie)?;
        self.state = ClientState::WaitReady { server_short };
        Ok(Some(cmd))
      }
      other => {
        self.state = other;
        Ok(None)
      }
    }
  }

  fn process_handshake_command(&mut self, body: &[u8]) -> Result<()> {
    if let Ok(Command::Error(reason)) = Command::parse(body) {
      return Err(ZmtpError::PeerError(reason));
    }
    match std::mem::replace(&mut self.state, ClientState::Ready) {
      ClientState::WaitWelcome => self.process_welcome(body),
      ClientState::WaitReady { server_short } => self.process_ready(server_short, body),
      _ => {
        let name = split(body).map(|(n, _)| n).unwrap_or(b"");
        Err(ZmtpError::UnexpectedCommand(
          String::from_utf8_lossy(name).into_owned(),
        ))
      }
    }
  }

  fn is_ready(&self) -> bool {
    matches!(self.state, ClientState::Ready) && self.traffic.is_some()
  }

  fn peer_properties(&self) -> Option<&Properties> {
    self.peer.as_ref()
  }

  fn overhead(&self) -> u64 {
    MESSAGE_OVERHEAD
  }

  fn encode(&mut self, frame: Frame) -> Result<Frame> {
    seal_traffic(&mut self.traffic, frame)
  }

  fn decode(&mut self, frame: Frame) -> Result<Frame> {
    open_traffic(&mut self.traffic, frame)
  }

  fn encode_into(
    &mut self,
    out: &mut BytesMut,
    more: bool,
    command: bool,
    body: &[u8],
  ) -> Result<()> {
    traffic(&mut self.traffic)?.seal_into(out, more, command, body)
  }

  fn decode_mut(&mut self, frame: FrameMut) -> Result<Frame> {
    traffic(&mut self.traffic)?.open_in_place(frame.body)
  }
}

//! ZMTP commands: `name length(u8) + name + data` in a COMMAND frame. READY properties, ERROR, PING/PONG,
//! SUBSCRIBE/CANCEL (3.1 command form) and the 3.0 subscription message form (`01`/`00` + topic).
//!
//! Every length read from the wire is checked against the bytes actually there; nothing is allocated from an
//! announced length.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{Result, ZmtpError};
use super::greeting::Version;

/// The ERROR prefix a libzmq 4.3 PLAIN server actually writes: its C literal `"\x05ERROR"` parses `\x05E` as
/// one hex escape, so the command goes out as `5E RROR` + reason length + reason (its CURVE server writes the
/// RFC form; both seen against libzmq 4.3.5). Accepted on input beside the RFC form; we send the RFC form.
pub const LIBZMQ_ERROR_PREFIX: &[u8] = b"\x5ERROR";

/// Longest PING context libzmq echoes.
pub const MAX_PING_CONTEXT: usize = 16;

/// Splits a command body into its name and data.
///
/// # Errors
/// [`ZmtpError::Malformed`] if the name length runs past the body.
pub fn split(body: &[u8]) -> Result<(&[u8], &[u8])> {
  let (&len, rest) = body
    .split_first()
    .ok_or(ZmtpError::Malformed("empty command"))?;
  let len = usize::from(len);
  if rest.len() < len {
    return Err(ZmtpError::Malformed("command name"));
  }
  Ok(rest.split_at(len))
}

/// Builds a command body from a name (at most 255 bytes) and data.
pub fn build(name: &[u8], data: &[u8]) -> BytesMut {
  let mut out = BytesMut::with_capacity(1 + name.len() + data.len());
  // Names are our own constants, all shorter than 256 bytes.
  out.put_u8(name.len() as u8);
  out.extend_from_slice(name);
  out.extend_from_slice(data);
  out
}

/// Metadata sent in READY/INITIATE: names matched case-sensitively, values of any bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<(String, Bytes)>);

impl Properties {
  /// Our properties: `Socket-Type`, then `Identity` for the types libzmq sends it from.
  pub fn for_socket(socket_type: &str, identity: &[u8]) -> Self {
    let mut props = vec![(
      "Socket-Type".to_string(),
      Bytes::copy_from_slice(socket_type.as_bytes()),
    )];
    if matches!(socket_type, "REQ" | "DEALER" | "ROUTER") {
      props.push(("Identity".to_string(), Bytes::copy_from_slice(identity)));
    }
    Self(props)
  }

  /// The value of a property, by exact name.
  pub fn get(&self, name: &str) -> Option<&Bytes> {
    self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
  }

  /// The peer's `Socket-Type`, if present and ASCII.
  pub fn socket_type(&self) -> Option<&str> {
    self
      .get("Socket-Type")
      .and_then(|v| std::str::from_utf8(v).ok())
  }

  /// The peer's `Identity` (routing id), empty if absent.
  pub fn identity(&self) -> Bytes {
    self.get("Identity").cloned().unwrap_or_default()
  }

  /// Appends the wire form: per property, name length u8 + name + value length u32 BE + value.
  pub fn encode(&self, out: &mut BytesMut) {
    for (name, value) in &self.0 {
      // Names longer than 255 bytes cannot be sent; ours are constants or checked by the caller.
      let name = &name.as_bytes()[..name.len().min(255)];
      out.put_u8(name.len() as u8);
      out.extend_from_slice(name);
      out.put_u32(value.len() as u32);
      out.extend_from_slice(value);
    }
  }

  /// Parses a property list that must fill `data` exactly.
  ///
  /// # Errors
  /// [`ZmtpError::Malformed`] for an empty or non-ASCII name, a length past the end, or an `Identity`
  /// over 255 bytes (libzmq's routing id limit).
  pub fn parse(data: &[u8]) -> Result<Self> {
    let mut props = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
      let len = usize::from(len);
      if len == 0 || tail.len() < len + 4 {
        return Err(ZmtpError::Malformed("property name"));
      }
      let (name, tail) = tail.split_at(len);
      if !name.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ZmtpError::Malformed("property name"));
      }
      let (vlen, tail) = tail.split_at(4);
      let vlen = u32::from_be_bytes([vlen[0], vlen[1], vlen[2], vlen[3]]) as u64;
      if vlen > tail.len() as u64 {
        return Err(ZmtpError::Malformed("property value length"));
      }
      let (value, tail) = tail.split_at(vlen as usize);
      if name == b"Identity" && value.len() > 255 {
        return Err(ZmtpError::Malformed("identity over 255 bytes"));
      }
      // The name is ASCII graphic, so this conversion cannot fail.
      let name = String::from_utf8_lossy(name).into_owned();
      props.push((name, Bytes::copy_from_slice(value)));
      rest = tail;
    }
    Ok(Self(props))
  }
}

/// The commands the session acts on (mechanisms parse their own handshake commands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
  /// `READY` with the peer's properties.
  Ready(Properties),
  /// `ERROR` with a reason.
  Error(String),
  /// `PING`: TTL in tenths of a second, context to echo (at most 16 bytes).
  Ping {
    /// Time to live, 0.1 s units; 0 means none.
    ttl: u16,
    /// Up to 16 bytes to echo in PONG.
    context: Bytes,
  },
  /// `PONG` with the echoed context.
  Pong(Bytes),
  /// `SUBSCRIBE` (3.1 command form).
  Subscribe(Bytes),
  /// `CANCEL` (3.1 command form).
  Cancel(Bytes),
  /// Any other command: libzmq ignores these after the handshake, and so do we.
  Unknown(String),
}

impl Command {
  /// Parses a command body.
  ///
  /// # Errors
  /// [`ZmtpError::Malformed`] for bad lengths in a known command.
  pub fn parse(body: &[u8]) -> Result<Self> {
    if let Some(data) = body.strip_prefix(LIBZMQ_ERROR_PREFIX) {
      return Ok(Self::Error(parse_error_reason(data)?));
    }
    let (name, data) = split(body)?;
    Ok(match name {
      b"READY" => Self::Ready(Properties::parse(data)?),
      b"ERROR" => Self::Error(parse_error_reason(data)?),
      b"PING" => {
        if data.len() < 2 {
          return Err(ZmtpError::Malformed("PING"));
        }
        let ttl = u16::from_be_bytes([data[0], data[1]]);
        // Like libzmq: a longer context is not an error, only the first 16 bytes are kept and echoed.
        let context = &data[2..][..(data.len() - 2).min(MAX_PING_CONTEXT)];
        Self::Ping {
          ttl,
          context: Bytes::copy_from_slice(context),
        }
      }
      b"PONG" => Self::Pong(Bytes::copy_from_slice(
        &data[..data.len().min(MAX_PING_CONTEXT)],
      )),
      b"SUBSCRIBE" => Self::Subscribe(Bytes::copy_from_slice(data)),
      b"CANCEL" => Self::Cancel(Bytes::copy_from_slice(data)),
      other => Self::Unknown(String::from_utf8_lossy(other).into_owned()),
    })
  }

  /// Encodes the command body (without the frame header).
  pub fn encode(&self) -> BytesMut {
    match self {
      Self::Ready(props) => {
        let mut out = build(b"READY", b"");
        props.encode(&mut out);
        out
      }
      Self::Error(reason) => {
        let reason = &reason.as_bytes()[..reason.len().min(255)];
        let mut data = vec![reason.len() as u8];
        data.extend_from_slice(reason);
        build(b"ERROR", &data)
      }
      Self::Ping { ttl, context } => {
        let mut data = ttl.to_be_bytes().to_vec();
        data.extend_from_slice(&context[..context.len().min(MAX_PING_CONTEXT)]);
        build(b"PING", &data)
      }
      Self::Pong(context) => build(b"PONG", &context[..context.len().min(MAX_PING_CONTEXT)]),
      Self::Subscribe(topic) => build(b"SUBSCRIBE", topic),
      Self::Cancel(topic) => build(b"CANCEL", topic),
      Self::Unknown(name) => build(&name.as_bytes()[..name.len().min(255)], b""),
    }
  }
}

fn parse_error_reason(data: &[u8]) -> Result<String> {
  let (&len, reason) = data.split_first().ok_or(ZmtpError::Malformed("ERROR"))?;
  if reason.len() != usize::from(len) {
    return Err(ZmtpError::Malformed("ERROR"));
  }
  Ok(String::from_utf8_lossy(reason).into_owned())
}

/// A subscription change, in whichever form the peer's version calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
  /// Subscribe to a topic prefix.
  Subscribe(Bytes),
  /// Cancel a subscription.
  Cancel(Bytes),
}

impl Subscription {
  /// Reads the 3.0 message form from a message's first data frame (`01`/`00` + topic);
  /// `None` for any other first byte (a plain message an XSUB application sent).
  pub fn from_message(first: &Bytes) -> Option<Self> {
    match first.first() {
      Some(1) => Some(Self::Subscribe(first.slice(1..))),
      Some(0) => Some(Self::Cancel(first.slice(1..))),
      _ => None,
    }
  }

  /// Reads the 3.1 command form, if the command is one.
  pub fn from_command(cmd: &Command) -> Option<Self> {
    match cmd {
      Command::Subscribe(t) => Some(Self::Subscribe(t.clone())),
      Command::Cancel(t) => Some(Self::Cancel(t.clone())),
      _ => None,
    }
  }

  /// The frame body and whether it is a command, for a peer of `version`.
  pub fn encode(&self, version: Version) -> (BytesMut, bool) {
    let (cmd, flag, topic) = match self {
      Self::Subscribe(t) => (Command::Subscribe(t.clone()), 1u8, t),
      Self::Cancel(t) => (Command::Cancel(t.clone()), 0u8, t),
    };
    match version {
      Version::V31 => (cmd.encode(), true),
      Version::V30 => {
        let mut out = BytesMut::with_capacity(1 + topic.len());
        out.put_u8(flag);
        out.extend_from_slice(topic);
        (out, false)
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn dealer_ready_without_identity_matches_libzmq_bytes() {
    let body = Command::Ready(Properties::for_socket("DEALER", b"")).encode();
    assert_eq!(
      &body[..],
      b"\x05READY\x0BSocket-Type\0\0\0\x06DEALER\x08Identity\0\0\0\0"
    );
    assert_eq!(body.len(), 0x29);
  }

  #[test]
  fn pub_ready_carries_no_identity() {
    let body = Command::Ready(Properties::for_socket("PUB", b"x")).encode();
    assert_eq!(&body[..], b"\x05READY\x0BSocket-Type\0\0\0\x03PUB");
  }

  #[test]
  fn ready_parses_socket_type_and_identity() {
    let cmd =
      Command::parse(b"\x05READY\x0BSocket-Type\0\0\0\x06ROUTER\x08Identity\0\0\0\x02id").unwrap();
    let Command::Ready(props) = cmd else {
      panic!("not READY")
    };
    assert_eq!(props.socket_type(), Some("ROUTER"));
    assert_eq!(&props.identity()[..], b"id");
  }

  #[test]
  fn property_names_are_case_sensitive() {
    let props = Properties::parse(b"\x0Bsocket-type\0\0\0\x03PUB").unwrap();
    assert_eq!(props.socket_type(), None);
  }

  #[test]
  fn property_value_length_past_the_end_is_refused_without_allocating() {
    // 0xFFFFFFFF announced, 3 bytes there.
    let err = Properties::parse(b"\x0BSocket-Type\xFF\xFF\xFF\xFFPUB").unwrap_err();
    assert_eq!(err, ZmtpError::Malformed("property value length"));
  }

  #[test]
  fn property_name_length_past_the_end_is_refused() {
    assert!(Properties::parse(b"\x20Socket").is_err());
    assert!(Properties::parse(b"\x0BSocket-Type\0\0").is_err());
    assert!(Properties::parse(b"\x00\0\0\0\0").is_err());
  }

  #[test]
  fn identity_over_255_bytes_is_refused() {
    let mut data = b"\x08Identity\0\0\x01\x00".to_vec();
    data.extend_from_slice(&[b'i'; 256]);
    assert_eq!(
      Properties::parse(&data),
      Err(ZmtpError::Malformed("identity over 255 bytes"))
    );
  }

  #[test]
  fn unknown_properties_are_kept_as_metadata() {
    let props = Properties::parse(b"\x05X-Foo\0\0\0\x03bar").unwrap();
    assert_eq!(props.get("X-Foo").map(|v| &v[..]), Some(&b"bar"[..]));
  }

  #[test]
  fn error_command_round_trips_and_checks_its_length() {
    let body = Command::Error("400".into()).encode();
    assert_eq!(&body[..], b"\x05ERROR\x03400");
    assert_eq!(Command::parse(&body).unwrap(), Command::Error("400".into()));
    assert!(Command::parse(b"\x05ERROR\x09400").is_err());
    assert!(Command::parse(b"\x05ERROR").is_err());
  }

  #[test]
  fn libzmqs_misspelt_error_prefix_is_read_as_error() {
    assert_eq!(
      Command::parse(b"\x5ERROR\x03400").unwrap(),
      Command::Error("400".into())
    );
    assert!(Command::parse(b"\x5ERROR\x04400").is_err());
  }

  #[test]
  fn ping_carries_ttl_and_up_to_16_bytes_of_context() {
    let ping = Command::Ping {
      ttl: 50,
      context: Bytes::from_static(b"ctx"),
    };
    assert_eq!(&ping.encode()[..], b"\x04PING\x00\x32ctx");
    assert_eq!(Command::parse(b"\x04PING\x00\x32ctx").unwrap(), ping);
    assert!(Command::parse(b"\x04PING\x00").is_err());
    let long = Command::parse(b"\x04PING\0\0AAAAAAAAAAAAAAAAB").unwrap();
    assert_eq!(
      long,
      Command::Ping {
        ttl: 0,
        context: Bytes::from_static(b"AAAAAAAAAAAAAAAA")
      }
    );
  }

  #[test]
  fn pong_echoes_the_context() {
    assert_eq!(
      Command::parse(b"\x04PONGctx").unwrap(),
      Command::Pong(Bytes::from_static(b"ctx"))
    );
  }

  #[test]
  fn command_name_length_past_the_end_is_refused() {
    assert_eq!(
      Command::parse(b"\x09SUB"),
      Err(ZmtpError::Malformed("command name"))
    );
    assert_eq!(
      Command::parse(b""),
      Err(ZmtpError::Malformed("empty command"))
    );
  }

  #[test]
  fn unknown_commands_parse_as_unknown() {
    assert_eq!(
      Command::parse(b"\x04XYZWdata").unwrap(),
      Command::Unknown("XYZW".into())
    );
  }

  #[test]
  fn subscription_uses_the_command_form_for_3_1_and_the_message_form_for_3_0() {
    let sub = Subscription::Subscribe(Bytes::from_static(b"topic"));
    let (body, cmd) = sub.encode(Version::V31);
    assert_eq!((&body[..], cmd), (&b"\x09SUBSCRIBEtopic"[..], true));
    let (body, cmd) = sub.encode(Version::V30);
    assert_eq!((&body[..], cmd), (&b"\x01topic"[..], false));
    let cancel = Subscription::Cancel(Bytes::from_static(b"t"));
    assert_eq!(&cancel.encode(Version::V31).0[..], b"\x06CANCELt");
    assert_eq!(&cancel.encode(Version::V30).0[..], b"\x00t");
  }

  #[test]
  fn both_subscription_forms_parse() {
    let from_msg = Subscription::from_message(&Bytes::from_static(b"\x01ab")).unwrap();
    let from_cmd =
      Subscription::from_command(&Command::parse(b"\x09SUBSCRIBEab").unwrap()).unwrap();
    assert_eq!(from_msg, from_cmd);
    assert_eq!(
      Subscription::from_message(&Bytes::from_static(b"\x00")),
      Some(Subscription::Cancel(Bytes::new()))
    );
    assert_eq!(
      Subscription::from_message(&Bytes::from_static(b"\x02x")),
      None
    );
  }
}

//! The 64-byte ZMTP 3.x greeting: encode ours (3.1), parse the peer's incrementally.
//!
//! Parsing refuses early: a bad signature after 1 or 10 bytes, a ZMTP 1.0/2.0 peer after 11, so a
//! hostile or confused peer is dropped before we wait for the rest. The padding (bytes 1-8) and the
//! as-server byte are never validated: libzmq writes its identity length + 1 into the padding and
//! always sends 0 as-server.

use super::error::{Result, ZmtpError};

/// Length of a full greeting.
pub const GREETING_LEN: usize = 64;

/// Bytes a peer must see before libzmq sends the rest of its greeting (signature + major).
/// We always write all 64 at once, which satisfies it.
pub const STAGED_SEND_MIN: usize = 11;

/// A security mechanism named in the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MechanismName {
  /// No security (RFC 23/37).
  Null,
  /// Cleartext username/password (RFC 24).
  Plain,
  /// CurveZMQ (RFC 26).
  Curve,
}

impl MechanismName {
  /// The ASCII name as written in the greeting.
  pub fn as_str(self) -> &'static str {
    match self {
      Self::Null => "NULL",
      Self::Plain => "PLAIN",
      Self::Curve => "CURVE",
    }
  }

  /// Matches the 20-byte NUL-padded field exactly (case-sensitive, as libzmq).
  ///
  /// # Errors
  /// [`ZmtpError::UnknownMechanism`] for any other name.
  pub fn parse(field: &[u8]) -> Result<Self> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    // Anything after the first NUL must be NUL too, or the field is not a padded name.
    let padded = field[end..].iter().all(|&b| b == 0);
    match (&field[..end], padded) {
      (b"NULL", true) => Ok(Self::Null),
      (b"PLAIN", true) => Ok(Self::Plain),
      (b"CURVE", true) => Ok(Self::Curve),
      _ => Err(ZmtpError::UnknownMechanism(
        String::from_utf8_lossy(&field[..end]).into_owned(),
      )),
    }
  }
}

/// Which wire forms to use with a peer, from its greeting's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
  /// ZMTP 3.0: subscriptions as `01`/`00` data frames, no PING/PONG.
  V30,
  /// ZMTP 3.1 or later: SUBSCRIBE/CANCEL/PING/PONG commands.
  V31,
}

/// The fields of a peer's greeting that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
  /// Major version (3 or more).
  pub major: u8,
  /// Minor version.
  pub minor: u8,
  /// The mechanism the peer uses.
  pub mechanism: MechanismName,
  /// The as-server byte (informational only: libzmq always sends 0).
  pub as_server: bool,
}

impl Greeting {
  /// The wire forms to use with this peer: 3.0 gets the legacy forms, 3.1+ (or major > 3) the new ones.
  pub fn version(&self) -> Version {
    if self.major == 3 && self.minor == 0 {
      Version::V30
    } else {
      Version::V31
    }
  }
}

/// Encodes our greeting: ZMTP 3.1, the given mechanism and as-server flag.
pub fn encode(mechanism: MechanismName, as_server: bool) -> [u8; GREETING_LEN] {
  let mut g = [0u8; GREETING_LEN];
  g[0] = 0xFF;
  // Padding: a BE u64 = 1, as libzmq writes with no identity; peers must not check it.
  g[8] = 0x01;
  g[9] = 0x7F;
  g[10] = 3;
  g[11] = 1;
  let name = mechanism.as_str().as_bytes();
  g[12..12 + name.len()].copy_from_slice(name);
  g[32] = u8::from(as_server);
  g
}

/// Parses the peer's greeting from the bytes received so far.
///
/// Returns `Ok(None)` while fewer than 64 bytes are there and nothing seen so far is wrong.
///
/// # Errors
/// [`ZmtpError::BadSignature`] (byte 0 not `FF`, or byte 9 without bit 0, which is ZMTP 1.0),
/// [`ZmtpError::UnsupportedVersion`] for a major below 3, [`ZmtpError::UnknownMechanism`].
pub fn parse(buf: &[u8]) -> Result<Option<Greeting>> {
  if let Some(&b) = buf.first() {
    if b != 0xFF {
      return Err(ZmtpError::BadSignature { offset: 0, byte: b });
    }
  }
  if let Some(&b) = buf.get(9) {
    // Bit 0 clear means a ZMTP 1.0 peer (its byte 9 is a flags byte).
    if b & 0x01 == 0 {
      return Err(ZmtpError::UnsupportedVersion { major: 1, minor: 0 });
    }
  }
  if let Some(&major) = buf.get(10) {
    if major < 3 {
      let minor = buf.get(11).copied().unwrap_or(0);
      return Err(ZmtpError::UnsupportedVersion { major, minor });
    }
  }
  if buf.len() < GREETING_LEN {
    return Ok(None);
  }
  Ok(Some(Greeting {
    major: buf[10],
    minor: buf[11],
    mechanism: MechanismName::parse(&buf[12..32])?,
    as_server: buf[32] != 0,
  }))
}

#[cfg(test)]
mod tests {
  use super::*;

  fn greeting(major: u8, minor: u8, mech: &[u8]) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor];
    let mut field = [0u8; 20];
    field[..mech.len()].copy_from_slice(mech);
    g.extend_from_slice(&field);
    g.extend_from_slice(&[0u8; 32]);
    g
  }

  #[test]
  fn our_greeting_is_3_1_with_padded_mechanism() {
    let g = encode(MechanismName::Curve, true);
    assert_eq!(&g[..12], b"\xFF\0\0\0\0\0\0\0\x01\x7F\x03\x01");
    assert_eq!(&g[12..17], b"CURVE");
    assert!(g[17..32].iter().all(|&b| b == 0));
    assert_eq!(g[32], 1);
    assert!(g[33..].iter().all(|&b| b == 0));
  }

  #[test]
  fn greeting_round_trips_through_parse() {
    let g = parse(&encode(MechanismName::Plain, false))
      .unwrap()
      .unwrap();
    assert_eq!(
      (g.major, g.minor, g.mechanism, g.as_server),
      (3, 1, MechanismName::Plain, false)
    );
    assert_eq!(g.version(), Version::V31);
  }

  #[test]
  fn partial_greeting_needs_more_bytes_at_every_length() {
    let g = greeting(3, 0, b"NULL");
    for n in 0..GREETING_LEN {
      assert_eq!(parse(&g[..n]), Ok(None), "at {n} bytes");
    }
    assert_eq!(parse(&g).unwrap().unwrap().version(), Version::V30);
  }

  #[test]
  fn libzmq_padding_with_identity_length_is_accepted() {
    let mut g = greeting(3, 1, b"NULL");
    g[1..9].copy_from_slice(b"\0\0\0\0\0\0\0\x06");
    assert!(parse(&g).unwrap().is_some());
  }

  #[test]
  fn a_major_above_3_uses_the_3_1_forms() {
    let g = parse(&greeting(4, 0, b"NULL")).unwrap().unwrap();
    assert_eq!(g.version(), Version::V31);
  }

  #[test]
  fn bad_first_byte_is_refused_after_one_byte() {
    assert_eq!(
      parse(b"G"),
      Err(ZmtpError::BadSignature {
        offset: 0,
        byte: b'G'
      })
    );
  }

  #[test]
  fn zmtp_1_0_peer_is_refused_at_byte_9() {
    let v1 = b"\xFF\0\0\0\0\0\0\0\x01\x00";
    assert_eq!(
      parse(v1),
      Err(ZmtpError::UnsupportedVersion { major: 1, minor: 0 })
    );
  }

  #[test]
  fn zmtp_2_0_peer_is_refused_at_byte_10() {
    let v2 = b"\xFF\0\0\0\0\0\0\0\x01\x7F\x01";
    assert_eq!(
      parse(v2),
      Err(ZmtpError::UnsupportedVersion { major: 1, minor: 0 })
    );
    let v2 = b"\xFF\0\0\0\0\0\0\0\x01\x7F\x02\x00";
    assert_eq!(
      parse(v2),
      Err(ZmtpError::UnsupportedVersion { major: 2, minor: 0 })
    );
  }

  #[test]
  fn unknown_mechanism_is_refused_with_its_name() {
    let err = parse(&greeting(3, 1, b"GSSAPI")).unwrap_err();
    assert_eq!(err, ZmtpError::UnknownMechanism("GSSAPI".into()));
    assert_eq!(err.reason(), "unknown_mechanism");
  }

  #[test]
  fn mechanism_names_match_case_sensitively_and_exactly() {
    assert!(parse(&greeting(3, 1, b"null")).is_err());
    assert!(parse(&greeting(3, 1, b"NULL\0X")).is_err());
    assert!(parse(&greeting(3, 1, b"NULLX")).is_err());
    assert!(parse(&greeting(3, 1, b"")).is_err());
  }

  #[test]
  fn version_9_9_with_random_bytes_in_the_mechanism_is_refused() {
    let mut g = greeting(9, 9, b"");
    g[12..32].copy_from_slice(
      b"\x8a\x13\xfe\x02\x77\x00\x10\x99\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c",
    );
    assert!(matches!(parse(&g), Err(ZmtpError::UnknownMechanism(_))));
  }
}

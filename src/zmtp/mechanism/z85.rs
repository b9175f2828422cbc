//! Z85 (RFC 32): 4 bytes as a BE u32 -> 5 base-85 digits, most significant first. Used for 40-char CURVE keys.

use super::super::error::{Result, ZmtpError};

const ALPHABET: &[u8; 85] =
  b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Encodes bytes whose length is a multiple of 4.
///
/// # Errors
/// [`ZmtpError::Malformed`] for any other length.
pub fn encode(data: &[u8]) -> Result<String> {
  if !data.len().is_multiple_of(4) {
    return Err(ZmtpError::Malformed("z85 input length"));
  }
  let mut out = String::with_capacity(data.len() / 4 * 5);
  for chunk in data.chunks_exact(4) {
    let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    let mut digits = [0u8; 5];
    for d in digits.iter_mut().rev() {
      *d = ALPHABET[(value % 85) as usize];
      value /= 85;
    }
    out.extend(digits.iter().map(|&b| b as char));
  }
  Ok(out)
}

fn digit(c: u8) -> Option<u64> {
  ALPHABET.iter().position(|&a| a == c).map(|p| p as u64)
}

/// Decodes a string whose length is a multiple of 5.
///
/// # Errors
/// [`ZmtpError::Malformed`] for a bad length, a character outside the alphabet, or a group above `u32::MAX`.
pub fn decode(text: &str) -> Result<Vec<u8>> {
  let text = text.as_bytes();
  if !text.len().is_multiple_of(5) {
    return Err(ZmtpError::Malformed("z85 text length"));
  }
  let mut out = Vec::with_capacity(text.len() / 5 * 4);
  for group in text.chunks_exact(5) {
    let mut value = 0u64;
    for &c in group {
      value = value * 85 + digit(c).ok_or(ZmtpError::Malformed("z85 character"))?;
    }
    let value = u32::try_from(value).map_err(|_| ZmtpError::Malformed("z85 group"))?;
    out.extend_from_slice(&value.to_be_bytes());
  }
  Ok(out)
}

/// Reads a CURVE key given as 40 Z85 characters or 32 raw bytes.
///
/// # Errors
/// [`ZmtpError::Malformed`] for any other form.
pub fn decode_key(key: &[u8]) -> Result<[u8; 32]> {
  let raw = match key.len() {
    32 => key.to_vec(),
    40 => decode(std::str::from_utf8(key).map_err(|_| ZmtpError::Malformed("z85 character"))?)?,
    _ => return Err(ZmtpError::Malformed("curve key length")),
  };
  let mut out = [0u8; 32];
  out.copy_from_slice(&raw);
  Ok(out)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn rfc_32_test_vector_encodes_to_hello_world() {
    let bytes = b"\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B";
    assert_eq!(encode(bytes).unwrap(), "HelloWorld");
    assert_eq!(decode("HelloWorld").unwrap(), bytes);
  }

  #[test]
  fn curve_keys_round_trip_as_40_characters() {
    let key: Vec<u8> = (0u8..32).collect();
    let text = encode(&key).unwrap();
    assert_eq!(text.len(), 40);
    assert_eq!(decode_key(text.as_bytes()).unwrap().to_vec(), key);
    assert_eq!(decode_key(&key).unwrap().to_vec(), key);
  }

  #[test]
  fn bad_lengths_characters_and_groups_are_refused() {
    assert!(encode(b"abc").is_err());
    assert!(decode("Hello1").is_err());
    assert!(decode("Hell\"").is_err());
    // "#####" is 84 * (85^4 + ... + 1) = 85^5 - 1 > u32::MAX.
    assert_eq!(decode("#####"), Err(ZmtpError::Malformed("z85 group")));
    assert!(decode_key(b"short").is_err());
  }
}

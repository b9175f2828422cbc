//! Request ids on the wire: `<base64url of 9 random bytes>.<token in base 36>`, unique across
//! processes (72 random bits per session) without a uuid per request. The JS facade deals in tokens
//! only; the rid is made here when a request goes out and parsed back when its replies come.

use bytes::{Bytes, BytesMut};
use rand::Rng;

const URL64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Base-36 digits of `u64::MAX`.
const MAX_DIGITS: usize = 13;

/// A fresh rid prefix (`<12 base64url chars>.`).
pub(super) fn new_base() -> Bytes {
  let r: [u8; 9] = rand::thread_rng().gen();
  let mut s = BytesMut::with_capacity(13);
  for chunk in r.chunks_exact(3) {
    let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
    for shift in [18, 12, 6, 0] {
      s.extend_from_slice(&[URL64[((n >> shift) & 63) as usize]]);
    }
  }
  s.extend_from_slice(b".");
  s.freeze()
}

/// `base` followed by `token` in base 36 (no leading zeros).
pub(super) fn rid_of(base: &[u8], token: u64) -> Bytes {
  let mut digits = [0u8; MAX_DIGITS];
  let mut i = digits.len();
  let mut n = token;
  loop {
    i -= 1;
    digits[i] = BASE36[(n % 36) as usize];
    n /= 36;
    if n == 0 {
      break;
    }
  }
  let mut rid = BytesMut::with_capacity(base.len() + MAX_DIGITS - i);
  rid.extend_from_slice(base);
  rid.extend_from_slice(&digits[i..]);
  rid.freeze()
}

/// The token `rid_of(base, token)` made, or `None` (another prefix, a leading zero, a digit out of
/// `[0-9a-z]`, an overflow): one rid per token and one token per rid.
pub(super) fn token_of(base: &[u8], rid: &[u8]) -> Option<u64> {
  let digits = rid.strip_prefix(base)?;
  if digits.is_empty() || digits.len() > MAX_DIGITS || (digits.len() > 1 && digits[0] == b'0') {
    return None;
  }
  digits.iter().try_fold(0u64, |n, &c| {
    let d = match c {
      b'0'..=b'9' => c - b'0',
      b'a'..=b'z' => c - b'a' + 10,
      _ => return None,
    };
    n.checked_mul(36)?.checked_add(u64::from(d))
  })
}

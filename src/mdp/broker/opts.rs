//! Cheap, lenient parsing of the few JSON option fields the broker acts on.
//!
//! Request opts: `timeout`, `retry`, `workerId`, `nocache`, `persist`; reply
//! opts: `cache`; worker heartbeat info: `concurrency`. Values follow
//! JavaScript truthiness, a field of an unexpected type counts as absent,
//! and an unparsable frame is the same as `{}`. Strings borrow from the frame.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Request timeout when opts carry none (pigato: `opts.timeout || 60000`).
pub use crate::mdp::DEFAULT_TIMEOUT;
/// Longest timeout honoured; longer ones are clamped (avoids Instant overflow).
const MAX_TIMEOUT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Any JSON value, reduced to what the broker needs.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) enum Lax<'a> {
  #[default]
  Null,
  Bool(bool),
  Num(f64),
  Str(Cow<'a, str>),
  /// An array or object (truthy, otherwise ignored).
  Other,
}

impl Lax<'_> {
  /// JavaScript truthiness.
  pub(crate) fn truthy(&self) -> bool {
    match self {
      Lax::Null => false,
      Lax::Bool(b) => *b,
      Lax::Num(n) => *n != 0.0 && !n.is_nan(),
      Lax::Str(s) => !s.is_empty(),
      Lax::Other => true,
    }
  }

  /// A strictly positive number of milliseconds as a Duration.
  fn positive_ms(&self) -> Option<Duration> {
    match self {
      Lax::Num(n) if *n > 0.0 => Some(
        Duration::try_from_secs_f64(n / 1000.0)
          .unwrap_or(MAX_TIMEOUT)
          .min(MAX_TIMEOUT),
      ),
      _ => None,
    }
  }
}

struct LaxVisitor;

impl<'de> Visitor<'de> for LaxVisitor {
  type Value = Lax<'de>;
  fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str("any JSON value")
  }
  fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lax<'de>, E> {
    Ok(Lax::Bool(v))
  }
  fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lax<'de>, E> {
    Ok(Lax::Num(v as f64))
  }
  fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lax<'de>, E> {
    Ok(Lax::Num(v as f64))
  }
  fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lax<'de>, E> {
    Ok(Lax::Num(v))
  }
  fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Lax<'de>, E> {
    Ok(Lax::Str(Cow::Borrowed(v)))
  }
  fn visit_str<E: de::Error>(self, v: &str) -> Result<Lax<'de>, E> {
    Ok(Lax::Str(Cow::Owned(v.to_owned())))
  }
  fn visit_unit<E: de::Error>(self) -> Result<Lax<'de>, E> {
    Ok(Lax::Null)
  }
  fn visit_none<E: de::Error>(self) -> Result<Lax<'de>, E> {
    Ok(Lax::Null)
  }
  fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lax<'de>, D::Error> {
    d.deserialize_any(LaxVisitor)
  }
  fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lax<'de>, A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(Lax::Other)
  }
  fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lax<'de>, A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(Lax::Other)
  }
}

impl<'de: 'a, 'a> Deserialize<'de> for Lax<'a> {
  fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Lax<'a>, D::Error> {
    d.deserialize_any(LaxVisitor)
  }
}

/// Whether the frame looks like a JSON object (serde would also read the
/// fields of a struct from an array, which JavaScript would not).
fn is_object(frame: &[u8]) -> bool {
  frame.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{')
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRequestOpts<'a> {
  #[serde(borrow)]
  timeout: Lax<'a>,
  #[serde(borrow)]
  retry: Lax<'a>,
  #[serde(borrow, rename = "workerId")]
  worker_id: Lax<'a>,
  #[serde(borrow)]
  nocache: Lax<'a>,
  #[serde(borrow)]
  persist: Lax<'a>,
}

/// The request options the broker acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOpts {
  /// How long the request may wait in the queue; `None` = forever.
  pub timeout: Option<Duration>,
  /// Re-queue when the worker is lost.
  pub retry: bool,
  /// Only this worker may take the request.
  pub worker_id: Option<Bytes>,
  /// Skip the reply cache lookup.
  pub nocache: bool,
  /// Hand the request to the persistence controller.
  pub persist: bool,
}

impl RequestOpts {
  /// Parses a request's opts frame (anything unparsable counts as `{}`).
  pub fn parse(opts: &Bytes) -> RequestOpts {
    let raw: RawRequestOpts = if !is_object(opts) {
      RawRequestOpts::default()
    } else {
      serde_json::from_slice(opts).unwrap_or_default()
    };
    let timeout = match raw.timeout {
      // pigato: `timeout > -1 && now > ts + timeout`, `0` means the default.
      Lax::Num(n) if n <= -1.0 => None,
      Lax::Num(n) if n > 0.0 => raw.timeout.positive_ms(),
      _ => Some(DEFAULT_TIMEOUT),
    };
    let worker_id = match raw.worker_id {
      Lax::Str(Cow::Borrowed(s)) => Some(opts.slice_ref(s.as_bytes())),
      Lax::Str(Cow::Owned(s)) => Some(Bytes::from(s)),
      _ => None,
    };
    RequestOpts {
      timeout,
      retry: raw.retry.truthy(),
      worker_id,
      nocache: raw.nocache.truthy(),
      persist: raw.persist.truthy(),
    }
  }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawReplyOpts<'a> {
  #[serde(borrow)]
  cache: Lax<'a>,
}

/// The `cache` time-to-live of a final reply's opts, if any (positive ms).
pub fn reply_cache_ttl(opts: &[u8]) -> Option<Duration> {
  // Most replies carry no `cache` key: skip the JSON parse for them.
  if !opts.windows(5).any(|w| w == b"cache") {
    return None;
  }
  if !is_object(opts) {
    return None;
  }
  let raw: RawReplyOpts = serde_json::from_slice(opts).ok()?;
  raw.cache.positive_ms()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawHeartbeat<'a> {
  #[serde(borrow)]
  concurrency: Lax<'a>,
}

/// The `concurrency` of a worker heartbeat's info (negative = unlimited, -1).
pub fn heartbeat_concurrency(info: &[u8]) -> Option<i64> {
  if !is_object(info) {
    return None;
  }
  let raw: RawHeartbeat = serde_json::from_slice(info).ok()?;
  match raw.concurrency {
    Lax::Num(n) if n < 0.0 => Some(-1),
    Lax::Num(n) if n.is_finite() => Some(n.min(i64::MAX as f64) as i64),
    _ => None,
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn p(s: &'static str) -> RequestOpts {
    RequestOpts::parse(&Bytes::from_static(s.as_bytes()))
  }

  #[test]
  fn empty_or_invalid_opts_give_defaults() {
    for s in ["", "null", "5", "{", "[1]", "{\"timeout\":\"x\"}"] {
      let o = p(s);
      assert_eq!(o.timeout, Some(DEFAULT_TIMEOUT), "{s}");
      assert!(!o.retry && !o.nocache && !o.persist && o.worker_id.is_none());
    }
  }

  #[test]
  fn timeout_follows_pigato_rules() {
    assert_eq!(
      p("{\"timeout\":300}").timeout,
      Some(Duration::from_millis(300))
    );
    assert_eq!(p("{\"timeout\":0}").timeout, Some(DEFAULT_TIMEOUT));
    assert_eq!(p("{\"timeout\":-1}").timeout, None);
    assert_eq!(p("{\"timeout\":1e300}").timeout, Some(MAX_TIMEOUT));
  }

  #[test]
  fn flags_use_javascript_truthiness() {
    let o = p("{\"retry\":1,\"nocache\":true,\"persist\":\"yes\",\"other\":{\"a\":[1,2]}}");
    assert!(o.retry && o.nocache && o.persist);
    let o = p("{\"retry\":0,\"nocache\":false,\"persist\":\"\"}");
    assert!(!o.retry && !o.nocache && !o.persist);
    assert!(p("{\"retry\":[]}").retry);
  }

  #[test]
  fn worker_id_borrows_from_the_frame_when_unescaped() {
    let frame = Bytes::from_static(b"{\"workerId\":\"W-1\"}");
    let o = RequestOpts::parse(&frame);
    let id = o.worker_id.unwrap();
    assert_eq!(&id[..], b"W-1");
    assert!(frame.as_ptr_range().contains(&id.as_ptr()));
    assert_eq!(
      p("{\"workerId\":\"W\\u002d1\"}").worker_id.unwrap(),
      Bytes::from_static(b"W-1")
    );
    assert_eq!(p("{\"workerId\":7}").worker_id, None);
  }

  #[test]
  fn reply_cache_ttl_needs_a_positive_number() {
    assert_eq!(
      reply_cache_ttl(b"{\"cache\":500}"),
      Some(Duration::from_millis(500))
    );
    assert_eq!(reply_cache_ttl(b"{\"cache\":0}"), None);
    assert_eq!(reply_cache_ttl(b"{\"cache\":true}"), None);
    assert_eq!(reply_cache_ttl(b"{}"), None);
    assert_eq!(reply_cache_ttl(b"not json cache"), None);
  }

  #[test]
  fn heartbeat_concurrency_is_read_leniently() {
    assert_eq!(heartbeat_concurrency(b"{\"concurrency\":5}"), Some(5));
    assert_eq!(
      heartbeat_concurrency(b"{\"concurrency\":-1,\"x\":1}"),
      Some(-1)
    );
    assert_eq!(heartbeat_concurrency(b"{\"concurrency\":\"5\"}"), None);
    assert_eq!(heartbeat_concurrency(b""), None);
    assert_eq!(heartbeat_concurrency(b"garbage"), None);
  }
}

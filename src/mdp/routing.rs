//! Service-name matching: which registered worker names serve a requested name.
//!
//! Three kinds of registered names (see [`Pattern`]):
//! - exact names, matched by the broker itself with one `HashMap` lookup
//!   (the common case never reaches this module);
//! - wildcards `prefix*`, serving any requested name starting with `prefix`
//!   that has no exact worker (longest prefix wins);
//! - versioned `name@1.2.3`, serving `name@<range>` requests whose node-semver
//!   range the version satisfies (exact `name@1.2.3` requests are exact hits).
//!
//! [`Router`] keeps only the wildcard and versioned names and caches the
//! resolution per requested name (cleared whenever the set of names changes),
//! so the range parsing cost is paid once per distinct requested name.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use semver::{Version, VersionReq};

/// Most requested names whose resolution is cached before the cache is reset.
const CACHE_MAX: usize = 4096;

/// How a registered worker service name matches requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
  /// Matches only the identical requested name.
  Exact,
  /// `prefix*`: matches requested names starting with `prefix`.
  Wildcard,
  /// `name@version`: matches `name@<range>` when the version satisfies it.
  Semver(Version),
}

/// Classifies a registered worker service name.
pub fn classify(name: &[u8]) -> Pattern {
  if name.last() == Some(&b'*') {
    return Pattern::Wildcard;
  }
  match split_at_version(name).and_then(|(_, v)| parse_version(v)) {
    Some(v) => Pattern::Semver(v),
    None => Pattern::Exact,
  }
}

/// Splits `name@rest` at the last `@` (the name part must not be empty).
fn split_at_version(name: &[u8]) -> Option<(&[u8], &[u8])> {
  let at = name.iter().rposition(|&c| c == b'@')?;
  if at == 0 {
    return None;
  }
  Some((&name[..at], &name[at + 1..]))
}

fn parse_version(v: &[u8]) -> Option<Version> {
  let s = std::str::from_utf8(v).ok()?.trim();
  Version::parse(s.strip_prefix(['v', '=']).unwrap_or(s)).ok()
}

/// A node-semver range as alternatives (`||`), each a `semver` requirement.
#[derive(Debug, Clone)]
pub struct Range(Vec<VersionReq>);

impl Range {
  /// Parses a node-semver range (`^1.2.x`, `~1.2`, `1.x`, `>=1 <2`,
  /// `1.2.3 - 1.4`, `a || b`, bare `1.2.3` meaning exactly that version).
  pub fn parse(text: &str) -> Option<Range> {
    let mut alts = Vec::new();
    for alt in text.split("||") {
      alts.push(VersionReq::parse(&normalize_alternative(alt)?).ok()?);
    }
    Some(Range(alts))
  }

  /// Whether `v` satisfies any alternative.
  pub fn matches(&self, v: &Version) -> bool {
    self.0.iter().any(|r| r.matches(v))
  }
}

/// Rewrites one node-semver alternative into `semver` crate syntax.
fn normalize_alternative(alt: &str) -> Option<String> {
  let tokens: Vec<&str> = alt.split_whitespace().collect();
  if let [lo, "-", hi] = tokens[..] {
    let (lo, hi) = (
      normalize_comparator(">=", lo)?,
      normalize_comparator("<=", hi)?,
    );
    return Some(format!("{lo}, {hi}"));
  }
  // Join operators written apart from their version (`>= 1.2`).
  let mut comparators: Vec<String> = Vec::new();
  let mut pending_op = String::new();
  for t in tokens {
    if t.bytes().all(|c| b"<>=~^".contains(&c)) {
      pending_op.push_str(t);
      continue;
    }
    comparators.push(normalize_comparator(&pending_op, t)?);
    pending_op.clear();
  }
  if !pending_op.is_empty() {
    return None;
  }
  comparators.retain(|c| c != "*");
  if comparators.is_empty() {
    return Some("*".to_string());
  }
  Some(comparators.join(", "))
}

fn strip_v(s: &str) -> &str {
  s.strip_prefix('v').unwrap_or(s)
}

/// One comparator: split the operator, drop wildcard segments (`1.2.x` ->
/// `1.2`, which means the same in both syntaxes), and make a bare version
/// exact (node: `1.2.3` is `=1.2.3`; the crate would read it as `^1.2.3`).
fn normalize_comparator(pending_op: &str, t: &str) -> Option<String> {
  let split = t.find(|c: char| !"<>=~^".contains(c)).unwrap_or(t.len());
  let (op, ver) = t.split_at(split);
  let op = if op.is_empty() { pending_op } else { op };
  let ver = strip_v(ver);
  let (core, tail) = match ver.find(['-', '+']) {
    Some(i) => ver.split_at(i),
    None => (ver, ""),
  };
  let kept: Vec<&str> = core
    .split('.')
    .take_while(|p| !matches!(*p, "x" | "X" | "*" | ""))
    .collect();
  if kept.is_empty() {
    // `*`, `x`, `>=x`...: any version (node treats `<x` as nothing; rare).
    return Some("*".to_string());
  }
  let tail = if kept.len() == 3 { tail } else { "" };
  let op = match op {
    "" => "=",
    "~>" => "~",
    o => o,
  };
  Some(format!("{op}{}{tail}", kept.join(".")))
}

/// The registered wildcard and versioned names, with a resolution cache.
#[derive(Debug, Default)]
pub struct Router {
  /// Registered `prefix*` names, longest first.
  wildcards: Vec<Bytes>,
  /// Base name -> (version, full registered name), highest version first.
  versions: HashMap<Bytes, Vec<(Version, Bytes)>>,
  /// Requested name -> registered names serving it (empty: none).
  cache: HashMap<Bytes, Arc<[Bytes]>>,
}

impl Router {
  /// An empty router.
  pub fn new() -> Router {
    Router::default()
  }

  /// Adds a registered worker name (no-op for exact names or repeats).
  /// Returns whether the name is a wildcard or versioned one.
  pub fn register(&mut self, name: &Bytes) -> bool {
    match classify(name) {
      Pattern::Exact => return false,
      Pattern::Wildcard => {
        if !self.wildcards.contains(name) {
          self.wildcards.push(name.clone());
          self.wildcards.sort_by_key(|w| std::cmp::Reverse(w.len()));
        }
      }
      Pattern::Semver(v) => {
        let Some((base, _)) = split_at_version(name) else {
          return false;
        };
        let list = self.versions.entry(name.slice_ref(base)).or_default();
        if !list.iter().any(|(_, n)| n == name) {
          list.push((v, name.clone()));
          list.sort_by(|a, b| b.0.cmp(&a.0));
        }
      }
    }
    self.cache.clear();
    true
  }

  /// Removes a registered worker name (when its last worker is gone).
  pub fn unregister(&mut self, name: &Bytes) {
    let before = self.wildcards.len();
    self.wildcards.retain(|w| w != name);
    let mut changed = before != self.wildcards.len();
    if let Some((base, _)) = split_at_version(name) {
      if let Some(list) = self.versions.get_mut(base) {
        let n = list.len();
        list.retain(|(_, full)| full != name);
        changed |= n != list.len();
        if list.is_empty() {
          self.versions.remove(base);
        }
      }
    }
    if changed {
      self.cache.clear();
    }
  }

  /// Whether any wildcard or versioned name is registered.
  pub fn is_empty(&self) -> bool {
    self.wildcards.is_empty() && self.versions.is_empty()
  }

  /// Registered names serving `requested` when it has no exact worker:
  /// versioned names whose version satisfies the range (highest first),
  /// else the longest matching wildcard. Empty when nothing matches.
  pub fn resolve(&mut self, requested: &Bytes) -> Arc<[Bytes]> {
    if self.is_empty() {
      return Arc::from(Vec::new());
    }
    if let Some(hit) = self.cache.get(requested) {
      return hit.clone();
    }
    let found: Arc<[Bytes]> = Arc::from(self.compute(requested));
    if self.cache.len() >= CACHE_MAX {
      self.cache.clear();
    }
    self.cache.insert(requested.clone(), found.clone());
    found
  }

  fn compute(&self, requested: &[u8]) -> Vec<Bytes> {
    let semver = self.resolve_semver(requested);
    if !semver.is_empty() {
      return semver;
    }
    let hit = self
      .wildcards
      .iter()
      .find(|w| requested.starts_with(&w[..w.len() - 1]));
    hit.cloned().into_iter().collect()
  }

  fn resolve_semver(&self, requested: &[u8]) -> Vec<Bytes> {
    let Some((base, range)) = split_at_version(requested) else {
      return Vec::new();
    };
    let Some(list) = self.versions.get(base) else {
      return Vec::new();
    };
    let Some(range) = std::str::from_utf8(range).ok().and_then(Range::parse) else {
      return Vec::new();
    };
    list
      .iter()
      .filter(|(v, _)| range.matches(v))
      .map(|(_, n)| n.clone())
      .collect()
  }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;

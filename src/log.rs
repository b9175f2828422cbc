//! Diagnostics: `DEBUG=zmqbus:*` (the `debug` package's convention) turns on logs of connects,
//! disconnects, handshakes, elections, lost heartbeats, drops and errors, per engine:
//! `zmqbus:broker`, `zmqbus:worker`, `zmqbus:client`, `zmqbus:bus`, `zmqbus:socket`,
//! `zmqbus:zmtp`, `zmqbus:busmq`. Patterns are separated by commas or spaces; `*` matches
//! anything and a leading `-` excludes (`DEBUG=zmqbus:*,-zmqbus:bus`).
//!
//! The code logs with `tracing` (`tracing::debug!(target: "zmqbus:bus", ...)`). With no pattern
//! naming us no subscriber is installed, so a log line costs one relaxed atomic load and nothing
//! is formatted.

use std::sync::Once;

/// Log targets, one per engine.
pub mod target {
  /// The pigato broker.
  pub const BROKER: &str = "zmqbus:broker";
  /// The pigato worker.
  pub const WORKER: &str = "zmqbus:worker";
  /// The pigato client.
  pub const CLIENT: &str = "zmqbus:client";
  /// The zmqbus node.
  pub const BUS: &str = "zmqbus:bus";
  /// Classic sockets.
  pub const SOCKET: &str = "zmqbus:socket";
  /// The ZMTP wire engine.
  pub const ZMTP: &str = "zmqbus:zmtp";
}

/// One `DEBUG` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
  exclude: bool,
  glob: String,
}

/// Parses a `DEBUG` value into patterns.
fn parse(spec: &str) -> Vec<Pattern> {
  spec
    .split([',', ' '])
    .filter(|p| !p.is_empty())
    .map(|p| match p.strip_prefix('-') {
      Some(rest) => Pattern {
        exclude: true,
        glob: rest.to_string(),
      },
      None => Pattern {
        exclude: false,
        glob: p.to_string(),
      },
    })
    .collect()
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(glob: &str, name: &str) -> bool {
  match glob.split_once('*') {
    None => glob == name,
    Some((head, tail)) => {
      let Some(rest) = name.strip_prefix(head) else {
        return false;
      };
      (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob_match(tail, &rest[i..]))
    }
  }
}

/// Whether `target` is on under `patterns` (an exclusion wins).
fn enabled(patterns: &[Pattern], target: &str) -> bool {
  let included = patterns
    .iter()
    .any(|p| !p.exclude && glob_match(&p.glob, target));
  included
    && !patterns
      .iter()
      .any(|p| p.exclude && glob_match(&p.glob, target))
}

/// Installs the stderr logger once if `DEBUG` names any of our targets.
pub fn init() {
  static ONCE: Once = Once::new();
  ONCE.call_once(|| {
    let spec = std::env::var("DEBUG").unwrap_or_default();
    let patterns = parse(&spec);
    let all = [
      target::BROKER,
      target::WORKER,
      target::CLIENT,
      target::BUS,
      target::SOCKET,
      target::ZMTP,
    ];
    if !all.iter().any(|t| enabled(&patterns, t)) {
      return;
    }
    use tracing_subscriber::prelude::*;
    let filter =
      tracing_subscriber::filter::filter_fn(move |meta| enabled(&patterns, meta.target()));
    let layer = tracing_subscriber::fmt::layer()
      .with_writer(std::io::stderr)
      .with_ansi(false)
      .with_level(false)
      .with_filter(filter);
    // Another subscriber may be installed already (an embedding process): keep it.
    let _ = tracing_subscriber::registry().with(layer).try_init();
  });
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn debug_patterns_follow_the_debug_packages_convention() {
    let p = parse("zmqbus:*,-zmqbus:bus other");
    assert!(enabled(&p, "zmqbus:broker"));
    assert!(!enabled(&p, "zmqbus:bus"));
    assert!(enabled(&p, "other"));
    assert!(!enabled(&parse(""), "zmqbus:broker"));
    assert!(enabled(&parse("*"), "zmqbus:zmtp"));
    assert!(enabled(&parse("zmqbus:b*r"), "zmqbus:broker"));
    assert!(!enabled(&parse("zmqbus:b*r"), "zmqbus:bus"));
  }
}

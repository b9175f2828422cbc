//! ZeroMQ endpoint strings (`tcp://host:port`, `ipc:///path`, `inproc://name`): parsing and printing.

use std::fmt;
use std::path::PathBuf;

use super::error::TransportError;

/// A parsed ZeroMQ endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
  /// TCP; `*` host means `0.0.0.0`, port 0 means an ephemeral port (bind only).
  Tcp {
    /// Host name or IP literal (IPv6 without brackets).
    host: String,
    /// Port; 0 = let the OS choose.
    port: u16,
  },
  /// Unix-domain socket path.
  Ipc(PathBuf),
  /// In-process endpoint served by this package's hub.
  Inproc(String),
}

fn bad(input: &str, why: &str) -> TransportError {
  TransportError::Endpoint(format!("{input:?}: {why}"))
}

impl Endpoint {
  /// Parses a zmq endpoint string.
  ///
  /// # Errors
  /// `TransportError::Endpoint` with a message naming the problem.
  pub fn parse(input: &str) -> Result<Endpoint, TransportError> {
    let (scheme, rest) = input
      .split_once("://")
      .ok_or_else(|| bad(input, "expected <transport>://<address>"))?;
    match scheme {
      "tcp" => parse_tcp(input, rest),
      "ipc" if rest.is_empty() => Err(bad(input, "ipc path is empty")),
      "ipc" => Ok(Endpoint::Ipc(PathBuf::from(rest))),
      "inproc" if rest.is_empty() => Err(bad(input, "inproc name is empty")),
      "inproc" => Ok(Endpoint::Inproc(rest.to_string())),
      "pgm" | "epgm" | "udp" | "vmci" | "ws" | "wss" | "tipc" | "norm" => {
        Err(bad(input, "transport not supported (use tcp, ipc or inproc)"))
      }
      _ => Err(bad(input, "unknown transport (use tcp, ipc or inproc)")),
    }
  }

  /// True for `inproc://` endpoints.
  pub fn is_inproc(&self) -> bool {
    matches!(self, Endpoint::Inproc(_))
  }
}

fn parse_tcp(input: &str, rest: &str) -> Result<Endpoint, TransportError> {
  let (host, port) = rest
    .rsplit_once(':')
    .ok_or_else(|| bad(input, "tcp address needs host:port"))?;
  let host = match host {
    "" => return Err(bad(input, "tcp host is empty")),
    "*" => "0.0.0.0".to_string(),
    h if h.starts_with('[') && h.ends_with(']') && h.len() > 2 => h[1..h.len() - 1].to_string(),
    h if h.contains(['[', ']', '/', ' ']) => return Err(bad(input, "malformed tcp host")),
    // A bare IPv6 literal without brackets is ambiguous with the port separator.
    h if h.contains(':') => return Err(bad(input, "IPv6 hosts need brackets: tcp://[::1]:port")),
    h => h.to_string(),
  };
  let port = match port {
    "*" => 0,
    p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
      .parse::<u16>()
      .map_err(|_| bad(input, "tcp port out of range (0-65535)"))?,
    _ => return Err(bad(input, "tcp port must be a number or *")),
  };
  Ok(Endpoint::Tcp { host, port })
}

impl fmt::Display for Endpoint {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
      Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
      Endpoint::Ipc(path) => write!(f, "ipc://{}", path.display()),
      Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
    }
  }
}

impl std::str::FromStr for Endpoint {
  type Err = TransportError;
  fn from_str(s: &str) -> Result<Self, Self::Err> {
    Endpoint::parse(s)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn tcp(host: &str, port: u16) -> Endpoint {
    Endpoint::Tcp { host: host.into(), port }
  }

  #[test]
  fn star_host_and_star_port_become_any_and_ephemeral() {
    assert_eq!(Endpoint::parse("tcp://*:5555").unwrap(), tcp("0.0.0.0", 5555));
    assert_eq!(Endpoint::parse("tcp://0.0.0.0:*").unwrap(), tcp("0.0.0.0", 0));
  }

  #[test]
  fn named_and_numeric_hosts_parse() {
    assert_eq!(Endpoint::parse("tcp://127.0.0.1:5555").unwrap(), tcp("127.0.0.1", 5555));
    assert_eq!(Endpoint::parse("tcp://localhost:5555").unwrap(), tcp("localhost", 5555));
    assert_eq!(Endpoint::parse("tcp://[::1]:7").unwrap(), tcp("::1", 7));
  }

  #[test]
  fn ipc_and_inproc_parse() {
    assert_eq!(Endpoint::parse("ipc:///tmp/x").unwrap(), Endpoint::Ipc("/tmp/x".into()));
    assert_eq!(Endpoint::parse("inproc://name").unwrap(), Endpoint::Inproc("name".into()));
  }

  #[test]
  fn display_gives_the_zmq_string_back() {
    for s in ["tcp://127.0.0.1:5555", "tcp://[::1]:7", "ipc:///tmp/x", "inproc://a.b"] {
      assert_eq!(Endpoint::parse(s).unwrap().to_string(), s);
    }
    assert_eq!(Endpoint::parse("tcp://*:*").unwrap().to_string(), "tcp://0.0.0.0:0");
  }

  #[test]
  fn malformed_endpoints_are_rejected_with_a_reason() {
    let cases = [
      ("", "expected"),
      ("tcp:/x:1", "expected"),
      ("tcp://host", "host:port"),
      ("tcp://:5555", "host is empty"),
      ("tcp://h:99999", "out of range"),
      ("tcp://h:abc", "number"),
      ("tcp://h:", "number"),
      ("tcp://::1:5", "brackets"),
      ("ipc://", "empty"),
      ("inproc://", "empty"),
      ("pgm://eth0;239.1.1.1:5555", "not supported"),
      ("foo://x", "unknown transport"),
    ];
    for (input, why) in cases {
      match Endpoint::parse(input) {
        Err(TransportError::Endpoint(msg)) => assert!(msg.contains(why), "{input}: {msg}"),
        other => panic!("{input}: expected error, got {other:?}"),
      }
    }
  }
}

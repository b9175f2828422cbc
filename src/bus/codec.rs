//! The discovery and election datagrams (one JSON array per UDP datagram),
//! parsed strictly and encoded exactly as the original zmqbus sends them.

use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{Map, Value};

/// Datagrams larger than this are refused before parsing.
pub const MAX_DATAGRAM: usize = 8 * 1024;

/// Why a datagram was refused; the caller counts it as a drop.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
  /// Larger than [`MAX_DATAGRAM`].
  #[error("datagram of {0} bytes is too large")]
  TooLarge(usize),
  /// Not UTF-8 JSON.
  #[error("datagram is not JSON")]
  NotJson,
  /// JSON, but not one of the known arrays.
  #[error("unknown datagram shape")]
  Shape,
  /// A node id that is not 10 ASCII digits.
  #[error("bad node id")]
  BadId,
  /// An address that is not `tcp://<IPv4>:<port>`.
  #[error("bad forwarder address")]
  BadAddress,
}

/// What a node advertises: its id and its forwarder's two endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMeta {
  /// 10 ASCII digits; the smallest id wins elections.
  pub id: String,
  /// Endpoint of the forwarder's SUB socket (publishers connect here).
  pub sub_addr: String,
  /// Endpoint of the forwarder's PUB socket (subscribers connect here).
  pub pub_addr: String,
}

/// One discovery or election datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
  /// `["hb", id]`: the elected node is alive.
  Heartbeat {
    /// The sender's id.
    id: String,
  },
  /// `["elect", "start"]`: an election begins.
  ElectStart,
  /// `["elect", "candidate", meta, last_elected]`: an answer to `start`.
  Candidate {
    /// The candidate itself.
    meta: NodeMeta,
    /// The candidate's current elected node (`{id: ''}` on the wire when none).
    last_elected: Option<NodeMeta>,
  },
  /// `["elect", "winner", meta]`: the result of an election.
  Winner {
    /// The elected node.
    meta: NodeMeta,
  },
}

/// Parses one datagram.
///
/// The original JavaScript nodes advertise their forwarder as `tcp://0.0.0.0:PORT`; such an
/// address is kept as it is here and resolved by the election layer (`super::addresses`),
/// which knows which host each node id speaks from.
///
/// # Errors
/// [`CodecError`] for anything but the four known, well-formed arrays.
pub fn parse(bytes: &[u8]) -> Result<Datagram, CodecError> {
  if bytes.len() > MAX_DATAGRAM {
    return Err(CodecError::TooLarge(bytes.len()));
  }
  let value: Value = serde_json::from_slice(bytes).map_err(|_| CodecError::NotJson)?;
  let items = value.as_array().ok_or(CodecError::Shape)?;
  let text = |i: usize| items.get(i).and_then(Value::as_str);
  match (items.len(), text(0), text(1)) {
    (2, Some("hb"), Some(id)) => Ok(Datagram::Heartbeat {
      id: parse_id(id)?.to_owned(),
    }),
    (2, Some("elect"), Some("start")) => Ok(Datagram::ElectStart),
    (4, Some("elect"), Some("candidate")) => Ok(Datagram::Candidate {
      meta: parse_meta(&items[2])?,
      last_elected: parse_last_elected(&items[3])?,
    }),
    (3, Some("elect"), Some("winner")) => Ok(Datagram::Winner {
      meta: parse_meta(&items[2])?,
    }),
    _ => Err(CodecError::Shape),
  }
}

/// Encodes a datagram as the original's JSON array.
pub fn encode(dg: &Datagram) -> Vec<u8> {
  let text = match dg {
    Datagram::Heartbeat { id } => format!("[\"hb\",{}]", json_str(id)),
    Datagram::ElectStart => "[\"elect\",\"start\"]".to_owned(),
    Datagram::Candidate { meta, last_elected } => {
      let last = match last_elected {
        Some(m) => encode_meta(m),
        None => "{\"id\":\"\"}".to_owned(),
      };
      format!("[\"elect\",\"candidate\",{},{}]", encode_meta(meta), last)
    }
    Datagram::Winner { meta } => format!("[\"elect\",\"winner\",{}]", encode_meta(meta)),
  };
  text.into_bytes()
}

/// A fresh node id: `99 - priority` on 2 digits, then a random number below
/// 2^20 on 8 digits. Priorities above 99 are treated as 99.
pub fn generate_id(priority: u8) -> String {
  format_id(priority, rand::thread_rng().gen_range(0..(1u32 << 20)))
}

/// The id for a given priority and random part (see [`generate_id`]).
pub fn format_id(priority: u8, random: u32) -> String {
  format!("{:02}{:08}", 99 - priority.min(99), random % (1 << 20))
}

/// True when `addr` is `tcp://<IPv4 unicast>:<port 1-65535>`.
pub fn is_valid_address(addr: &str) -> bool {
  let Some(rest) = addr.strip_prefix("tcp://") else {
    return false;
  };
  let Some((ip, port)) = rest.rsplit_once(':') else {
    return false;
  };
  let ip_ok = ip
    .parse::<Ipv4Addr>()
    .map(|ip| !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast())
    .unwrap_or(false);
  let port_ok = port.len() <= 5
    && port.bytes().all(|b| b.is_ascii_digit())
    && matches!(port.parse::<u32>(), Ok(1..=65535));
  ip_ok && port_ok
}

fn json_str(s: &str) -> String {
  Value::String(s.to_owned()).to_string()
}

fn encode_meta(m: &NodeMeta) -> String {
  format!(
    "{{\"id\":{},\"sub_addr\":{},\"pub_addr\":{}}}",
    json_str(&m.id),
    json_str(&m.sub_addr),
    json_str(&m.pub_addr)
  )
}

fn parse_id(id: &str) -> Result<&str, CodecError> {
  if id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit()) {
    Ok(id)
  } else {
    Err(CodecError::BadId)
  }
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, CodecError> {
  obj
    .get(key)
    .and_then(Value::as_str)
    .ok_or(CodecError::Shape)
}

fn parse_meta(v: &Value) -> Result<NodeMeta, CodecError> {
  let obj = v.as_object().ok_or(CodecError::Shape)?;
  let id = parse_id(field(obj, "id")?)?.to_owned();
  let sub_addr = field(obj, "sub_addr")?;
  let pub_addr = field(obj, "pub_addr")?;
  let ok = |a: &str| is_valid_address(a) || unspecified_port(a).is_some();
  if !ok(sub_addr) || !ok(pub_addr) {
    return Err(CodecError::BadAddress);
  }
  Ok(NodeMeta {
    id,
    sub_addr: sub_addr.to_owned(),
    pub_addr: pub_addr.to_owned(),
  })
}

/// The port of `tcp://0.0.0.0:PORT` (what an original node advertises), if `addr` is that.
pub fn unspecified_port(addr: &str) -> Option<&str> {
  let port = addr.strip_prefix("tcp://0.0.0.0:")?;
  is_valid_address(&format!("tcp://127.0.0.1:{port}")).then_some(port)
}

fn parse_last_elected(v: &Value) -> Result<Option<NodeMeta>, CodecError> {
  let obj = v.as_object().ok_or(CodecError::Shape)?;
  match obj.get("id").and_then(Value::as_str) {
    Some("") => Ok(None),
    // Only the id matters here; some peers send `{id}` without addresses.
    Some(id) => parse_meta(v).map(Some).or_else(|_| {
      Ok(Some(NodeMeta {
        id: parse_id(id)?.to_owned(),
        sub_addr: String::new(),
        pub_addr: String::new(),
      }))
    }),
    None => Err(CodecError::Shape),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn an_original_nodes_unspecified_host_is_kept_for_the_election_layer() {
    let dg = parse(br#"["elect","winner",{"id":"9900000001","sub_addr":"tcp://0.0.0.0:4001","pub_addr":"tcp://0.0.0.0:4002"}]"#);
    let want = NodeMeta {
      id: "9900000001".into(),
      sub_addr: "tcp://0.0.0.0:4001".into(),
      pub_addr: "tcp://0.0.0.0:4002".into(),
    };
    assert_eq!(dg, Ok(Datagram::Winner { meta: want }));
    assert_eq!(unspecified_port("tcp://0.0.0.0:4001"), Some("4001"));
    assert_eq!(unspecified_port("tcp://0.0.0.0:0"), None);
    assert_eq!(unspecified_port("tcp://10.0.0.1:4001"), None);
  }

  #[test]
  fn candidate_whose_last_elected_has_only_an_id_is_accepted() {
    let dg = parse(br#"["elect","candidate",{"id":"9900000002","sub_addr":"tcp://127.0.0.1:5001","pub_addr":"tcp://127.0.0.1:5002"},{"id":"9900000001"}]"#).unwrap();
    let Datagram::Candidate { last_elected, .. } = dg else {
      panic!("not a candidate")
    };
    assert_eq!(last_elected.unwrap().id, "9900000001");
    assert!(parse(br#"["elect","candidate",{"id":"9900000002","sub_addr":"tcp://127.0.0.1:5001","pub_addr":"tcp://127.0.0.1:5002"},{"id":"x"}]"#).is_err());
  }

  fn meta(id: &str) -> NodeMeta {
    NodeMeta {
      id: id.into(),
      sub_addr: "tcp://127.0.0.1:5001".into(),
      pub_addr: "tcp://127.0.0.1:5002".into(),
    }
  }

  #[test]
  fn encode_produces_the_original_arrays() {
    assert_eq!(
      encode(&Datagram::Heartbeat {
        id: "9900000042".into()
      }),
      br#"["hb","9900000042"]"#
    );
    assert_eq!(encode(&Datagram::ElectStart), br#"["elect","start"]"#);
    assert_eq!(
      encode(&Datagram::Candidate {
        meta: meta("9900000001"),
        last_elected: None
      }),
      br#"["elect","candidate",{"id":"9900000001","sub_addr":"tcp://127.0.0.1:5001","pub_addr":"tcp://127.0.0.1:5002"},{"id":""}]"#
    );
    assert_eq!(
      encode(&Datagram::Winner {
        meta: meta("9900000001")
      }),
      br#"["elect","winner",{"id":"9900000001","sub_addr":"tcp://127.0.0.1:5001","pub_addr":"tcp://127.0.0.1:5002"}]"#
    );
  }

  #[test]
  fn parse_reads_back_every_encoded_datagram() {
    let all = [
      Datagram::Heartbeat {
        id: "0012345678".into(),
      },
      Datagram::ElectStart,
      Datagram::Candidate {
        meta: meta("9900000001"),
        last_elected: Some(meta("9800000002")),
      },
      Datagram::Candidate {
        meta: meta("9900000001"),
        last_elected: None,
      },
      Datagram::Winner {
        meta: meta("9900000001"),
      },
    ];
    for dg in all {
      assert_eq!(parse(&encode(&dg)), Ok(dg));
    }
  }

  #[test]
  fn parse_accepts_spaces_and_extra_meta_keys_from_other_encoders() {
    let dg = parse(br#"[ "elect", "winner", {"pub_addr":"tcp://10.0.0.2:4000", "id":"9900000001", "sub_addr":"tcp://10.0.0.2:4001", "x":1} ]"#);
    assert!(matches!(dg, Ok(Datagram::Winner { .. })));
  }

  #[test]
  fn parse_refuses_hostile_or_malformed_datagrams() {
    let cases: [(&[u8], CodecError); 11] = [
      (b"not json", CodecError::NotJson),
      (b"\xff\xfe", CodecError::NotJson),
      (br#"{"hb":1}"#, CodecError::Shape),
      (br#"["hb"]"#, CodecError::Shape),
      (br#"["hb", 42]"#, CodecError::Shape),
      (br#"["hb","12345"]"#, CodecError::BadId),
      (br#"["hb","12345678x0"]"#, CodecError::BadId),
      (br#"["elect","winner",{"id":"9900000001"}]"#, CodecError::Shape),
      (
        br#"["elect","winner",{"id":"9900000001","sub_addr":"tcp://0.0.0.0:0","pub_addr":"tcp://1.2.3.4:2"}]"#,
        CodecError::BadAddress,
      ),
      (
        br#"["elect","winner",{"id":"9900000001","sub_addr":"tcp://224.0.0.1:1","pub_addr":"tcp://1.2.3.4:2"}]"#,
        CodecError::BadAddress,
      ),
      (
        br#"["elect","winner",{"id":"9900000001","sub_addr":"ipc:///tmp/x","pub_addr":"tcp://1.2.3.4:2"}]"#,
        CodecError::BadAddress,
      ),
    ];
    for (bytes, want) in cases {
      assert_eq!(
        parse(bytes),
        Err(want),
        "{}",
        String::from_utf8_lossy(bytes)
      );
    }
  }

  #[test]
  fn oversized_datagram_is_refused_before_parsing() {
    let big = vec![b' '; MAX_DATAGRAM + 1];
    assert_eq!(parse(&big), Err(CodecError::TooLarge(MAX_DATAGRAM + 1)));
  }

  #[test]
  fn addresses_need_ipv4_and_a_port_in_range() {
    assert!(is_valid_address("tcp://192.168.1.5:65535"));
    assert!(!is_valid_address("tcp://192.168.1.5:0"));
    assert!(!is_valid_address("tcp://192.168.1.5:65536"));
    assert!(!is_valid_address("tcp://192.168.1.5:+80"));
    assert!(!is_valid_address("tcp://host:80"));
    assert!(!is_valid_address("tcp://239.1.2.3:80"));
  }

  #[test]
  fn ids_put_the_inverted_priority_first() {
    assert_eq!(format_id(0, 42), "9900000042");
    assert_eq!(format_id(99, (1 << 20) - 1), "0001048575");
    let id = generate_id(7);
    assert_eq!(id.len(), 10);
    assert!(id.starts_with("92"));
    assert!(format_id(5, 0) < format_id(4, 1_000_000));
  }
}

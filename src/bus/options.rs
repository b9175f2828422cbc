//! Options of a zmqbus node: defaults from the original library and strict
//! validation of the JSON object passed to `createNode(options)`.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::{Map, Value};

/// An option that cannot be used; the message names the option and its value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
  /// The options value is not a JSON object.
  #[error("options must be an object, got {0}")]
  NotAnObject(String),
  /// One option has a value that is out of range or of the wrong type.
  #[error("{option} '{value}' {reason}")]
  Invalid {
    /// The option's name, e.g. `multicast_addr`.
    option: &'static str,
    /// The value as given (strings without quotes).
    value: String,
    /// Why the value is refused, e.g. "is not an IPv4 multicast address".
    reason: &'static str,
  },
}

impl OptionsError {
  /// The Node.js-style error code: `ERR_INVALID_ARG_TYPE` for a value of the
  /// wrong type, `ERR_INVALID_ARG_VALUE` for an unusable address,
  /// `ERR_OUT_OF_RANGE` for a number outside its range. The facade throws a
  /// `TypeError` for the first two and a `RangeError` for the last.
  pub fn code(&self) -> &'static str {
    match self {
      Self::NotAnObject(_) => "ERR_INVALID_ARG_TYPE",
      Self::Invalid { reason, .. } if *reason == NOT_A_STRING => "ERR_INVALID_ARG_TYPE",
      Self::Invalid {
        option: "cluster_key",
        ..
      } => "ERR_INVALID_ARG_VALUE",
      Self::Invalid { reason, .. } if *reason == NOT_A_NUMBER => "ERR_INVALID_ARG_TYPE",
      Self::Invalid { option, .. }
        if option.starts_with("multicast_") && *option != "multicast_port" =>
      {
        "ERR_INVALID_ARG_VALUE"
      }
      Self::Invalid { .. } => "ERR_OUT_OF_RANGE",
    }
  }
}

const NOT_A_NUMBER: &str = "is not a number";
const NOT_A_STRING: &str = "is not a string";

/// The configuration of one node. Durations are given in milliseconds in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOptions {
  /// 0..=99; a higher priority wins elections.
  pub election_priority: u8,
  /// How long an election collects candidates.
  pub election_timeout: Duration,
  /// Period of the elected node's heartbeat and of every node's liveness check.
  pub heartbeat_period: Duration,
  /// Without a heartbeat for this long, a node starts an election.
  pub heartbeat_timeout: Duration,
  /// Multicast group (224.0.0.0/4) or `255.255.255.255` for subnet broadcast.
  pub multicast_addr: Ipv4Addr,
  /// UDP port of discovery; together with `multicast_addr` it names the cluster.
  pub multicast_port: u16,
  /// Interface for discovery and the advertised forwarder address.
  /// `0.0.0.0` means the host's primary IPv4 address; `127.0.0.1` makes a
  /// cluster that never leaves the host.
  pub multicast_interface: Ipv4Addr,
  /// Messages kept while no forwarder is connected (before ready, during a
  /// failover); beyond it they are dropped and counted.
  pub publish_buffer: usize,
  /// Limit for connecting to an elected forwarder; past it the forwarder
  /// counts as unreachable and a new election starts.
  pub connect_timeout: Duration,
  /// When the forwarder connection drops, publishes written to it within
  /// this window are sent again through the next forwarder (at-least-once
  /// across a crashed master; duplicates are possible). Zero (the default)
  /// keeps the original's at-most-once behaviour.
  pub resend_window: Duration,
  /// CURVE or PLAIN on the data path (`curve` / `plain`); NULL by default. With a
  /// `cluster_key`, CURVE with the key pair derived from it.
  pub security: super::security::BusSecurity,
  /// Signs and checks every discovery datagram (`cluster_key`); none by default.
  pub cluster_key: Option<super::auth::ClusterKey>,
}

impl Default for NodeOptions {
  fn default() -> Self {
    Self {
      election_priority: 0,
      election_timeout: Duration::from_millis(2000),
      heartbeat_period: Duration::from_millis(2000),
      heartbeat_timeout: Duration::from_millis(6000),
      multicast_addr: Ipv4Addr::new(239, 1, 2, 3),
      multicast_port: 45555,
      multicast_interface: Ipv4Addr::UNSPECIFIED,
      publish_buffer: 10_000,
      connect_timeout: Duration::from_millis(1000),
      resend_window: Duration::ZERO,
      security: super::security::BusSecurity::default(),
      cluster_key: None,
    }
  }
}

impl NodeOptions {
  /// Reads options from a JSON object, falling back to defaults for missing
  /// or `null` keys. Numbers may be given as JSON numbers or numeric strings.
  /// Unknown keys are ignored.
  ///
  /// # Errors
  /// [`OptionsError`] naming the first invalid option and its value.
  pub fn from_json(value: &Value) -> Result<Self, OptionsError> {
    let map = match value {
      Value::Object(map) => map,
      Value::Null => return Ok(Self::default()),
      other => return Err(OptionsError::NotAnObject(other.to_string())),
    };
    let mut opts = Self::default();
    if let Some(v) = get(map, "election_priority") {
      opts.election_priority = int_in(v, "election_priority", 0, 99)? as u8;
    }
    if let Some(v) = get(map, "election_timeout") {
      opts.election_timeout = millis(v, "election_timeout")?;
    }
    if let Some(v) = get(map, "heartbeat_period") {
      opts.heartbeat_period = millis(v, "heartbeat_period")?;
    }
    if let Some(v) = get(map, "heartbeat_timeout") {
      opts.heartbeat_timeout = millis(v, "heartbeat_timeout")?;
    }
    if let Some(v) = get(map, "multicast_addr") {
      opts.multicast_addr = multicast_addr(v)?;
    }
    if let Some(v) = get(map, "multicast_port") {
      opts.multicast_port = int_in(v, "multicast_port", 1, 65535)? as u16;
    }
    if let Some(v) = get(map, "multicast_interface") {
      opts.multicast_interface = interface(v)?;
    }
    if let Some(v) = get(map, "publish_buffer") {
      opts.publish_buffer = int_in(v, "publish_buffer", 0, 100_000_000)? as usize;
    }
    if let Some(v) = get(map, "connect_timeout") {
      opts.connect_timeout = millis(v, "connect_timeout")?;
    }
    if let Some(v) = get(map, "resend_window") {
      opts.resend_window = Duration::from_millis(int_in(v, "resend_window", 0, 60_000)?);
    }
    opts.security = super::security::BusSecurity::from_options(map.get("curve"), map.get("plain"))?;
    if let Some(v) = get(map, "cluster_key") {
      let key = cluster_key(v)?;
      if opts.security.is_set() {
        return Err(OptionsError::Invalid {
          option: "cluster_key",
          value: "(hidden)".into(),
          reason: "cannot be combined with curve or plain (it sets CURVE itself)",
        });
      }
      opts.security = super::security::BusSecurity::from_cluster_key(&key)?;
      opts.cluster_key = Some(key);
    }
    Ok(opts)
  }

  /// True when discovery stays on the loopback interface.
  pub fn is_loopback(&self) -> bool {
    self.multicast_interface.is_loopback()
  }
}

fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
  map.get(key).filter(|v| !v.is_null())
}

/// The value as shown in error messages: strings without their quotes.
fn shown(v: &Value) -> String {
  match v {
    Value::String(s) => s.clone(),
    other => other.to_string(),
  }
}

fn invalid(option: &'static str, v: &Value, reason: &'static str) -> OptionsError {
  OptionsError::Invalid {
    option,
    value: shown(v),
    reason,
  }
}

/// A finite number from a JSON number or a numeric string.
fn number(v: &Value) -> Option<f64> {
  let n = match v {
    Value::Number(n) => n.as_f64(),
    Value::String(s) => s.trim().parse::<f64>().ok(),
    _ => None,
  };
  n.filter(|n| n.is_finite())
}

fn int_in(v: &Value, option: &'static str, min: u64, max: u64) -> Result<u64, OptionsError> {
  let n = number(v).ok_or_else(|| invalid(option, v, NOT_A_NUMBER))?;
  if n.fract() != 0.0 || n < min as f64 || n > max as f64 {
    return Err(match option {
      "election_priority" => invalid(option, v, "is not an integer between 0 and 99"),
      "multicast_port" => invalid(option, v, "is not a port number (1-65535)"),
      "resend_window" => invalid(
        option,
        v,
        "is not a number of milliseconds between 0 and 60000",
      ),
      _ => invalid(option, v, "is not a non-negative integer"),
    });
  }
  // In range and integral, so the conversion is exact.
  Ok(n as u64)
}

fn millis(v: &Value, option: &'static str) -> Result<Duration, OptionsError> {
  let n = number(v).ok_or_else(|| invalid(option, v, NOT_A_NUMBER))?;
  // One day is far beyond any sane timeout and keeps Duration arithmetic safe.
  if n <= 0.0 || n > 86_400_000.0 {
    return Err(invalid(
      option,
      v,
      "is not a positive number of milliseconds",
    ));
  }
  Ok(Duration::from_secs_f64(n / 1000.0))
}

/// The `cluster_key` text, at least [`super::auth::MIN_KEY_LEN`] bytes. Error messages never show it.
fn cluster_key(v: &Value) -> Result<super::auth::ClusterKey, OptionsError> {
  let hidden = |value: String, reason| OptionsError::Invalid {
    option: "cluster_key",
    value,
    reason,
  };
  let key = v
    .as_str()
    .ok_or_else(|| hidden("(not shown)".into(), NOT_A_STRING))?;
  if key.len() < super::auth::MIN_KEY_LEN {
    let shown = format!("({} bytes)", key.len());
    return Err(hidden(shown, "is shorter than 16 bytes"));
  }
  Ok(super::auth::ClusterKey::derive(key.as_bytes()))
}

fn ipv4(v: &Value) -> Option<Ipv4Addr> {
  v.as_str().and_then(|s| s.trim().parse::<Ipv4Addr>().ok())
}

fn multicast_addr(v: &Value) -> Result<Ipv4Addr, OptionsError> {
  match ipv4(v) {
    Some(ip) if ip.is_multicast() || ip.is_broadcast() => Ok(ip),
    _ => Err(invalid(
      "multicast_addr",
      v,
      "is not an IPv4 multicast address",
    )),
  }
}

fn interface(v: &Value) -> Result<Ipv4Addr, OptionsError> {
  match ipv4(v) {
    Some(ip) if !ip.is_multicast() && !ip.is_broadcast() => Ok(ip),
    _ => Err(invalid(
      "multicast_interface",
      v,
      "is not the IPv4 address of an interface",
    )),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  fn err(v: Value) -> String {
    NodeOptions::from_json(&v).unwrap_err().to_string()
  }

  #[test]
  fn empty_object_gives_the_readme_defaults() {
    let o = NodeOptions::from_json(&json!({})).unwrap();
    assert_eq!(o, NodeOptions::default());
    assert_eq!(o.multicast_addr, Ipv4Addr::new(239, 1, 2, 3));
    assert_eq!(o.multicast_port, 45555);
    assert_eq!(o.heartbeat_timeout, Duration::from_millis(6000));
  }

  #[test]
  fn numeric_strings_and_numbers_are_both_accepted() {
    let o = NodeOptions::from_json(&json!({
      "election_priority": "2", "multicast_port": "42424", "election_timeout": 150,
      "heartbeat_period": "100", "multicast_addr": "239.9.9.9", "multicast_interface": "127.0.0.1"
    }))
    .unwrap();
    assert_eq!(o.election_priority, 2);
    assert_eq!(o.multicast_port, 42424);
    assert_eq!(o.election_timeout, Duration::from_millis(150));
    assert_eq!(o.heartbeat_period, Duration::from_millis(100));
    assert_eq!(o.multicast_addr, Ipv4Addr::new(239, 9, 9, 9));
    assert!(o.is_loopback());
  }

  #[test]
  fn readme_example_port_under_address_key_is_a_clear_error() {
    assert_eq!(
      err(json!({"multicast_addr": "42424"})),
      "multicast_addr '42424' is not an IPv4 multicast address"
    );
    assert_eq!(
      err(json!({"multicast_addr": 42424})),
      "multicast_addr '42424' is not an IPv4 multicast address"
    );
  }

  #[test]
  fn broadcast_address_is_accepted_and_unicast_is_not() {
    let o = NodeOptions::from_json(&json!({"multicast_addr": "255.255.255.255"})).unwrap();
    assert!(o.multicast_addr.is_broadcast());
    assert_eq!(
      err(json!({"multicast_addr": "10.0.0.1"})),
      "multicast_addr '10.0.0.1' is not an IPv4 multicast address"
    );
  }

  #[test]
  fn out_of_range_numbers_name_the_option_and_value() {
    assert_eq!(
      err(json!({"election_priority": 100})),
      "election_priority '100' is not an integer between 0 and 99"
    );
    assert_eq!(
      err(json!({"election_priority": "1.5"})),
      "election_priority '1.5' is not an integer between 0 and 99"
    );
    assert_eq!(
      err(json!({"multicast_port": 70000})),
      "multicast_port '70000' is not a port number (1-65535)"
    );
    assert_eq!(
      err(json!({"heartbeat_timeout": "soon"})),
      "heartbeat_timeout 'soon' is not a number"
    );
    assert_eq!(
      err(json!({"election_timeout": -5})),
      "election_timeout '-5' is not a positive number of milliseconds"
    );
    assert_eq!(
      err(json!({"multicast_interface": "239.1.2.3"})),
      "multicast_interface '239.1.2.3' is not the IPv4 address of an interface"
    );
  }

  #[test]
  fn resend_window_is_off_by_default_and_takes_zero_to_a_minute() {
    assert_eq!(NodeOptions::default().resend_window, Duration::ZERO);
    let o = NodeOptions::from_json(&json!({"resend_window": 150})).unwrap();
    assert_eq!(o.resend_window, Duration::from_millis(150));
    assert_eq!(
      err(json!({"resend_window": 60001})),
      "resend_window '60001' is not a number of milliseconds between 0 and 60000"
    );
  }

  #[test]
  fn error_codes_tell_type_value_and_range_errors_apart() {
    let code = |v: Value| NodeOptions::from_json(&v).unwrap_err().code();
    assert_eq!(
      code(json!({"multicast_addr": "42424"})),
      "ERR_INVALID_ARG_VALUE"
    );
    assert_eq!(
      code(json!({"multicast_interface": "eth0"})),
      "ERR_INVALID_ARG_VALUE"
    );
    assert_eq!(
      code(json!({"heartbeat_period": "soon"})),
      "ERR_INVALID_ARG_TYPE"
    );
    assert_eq!(code(json!({"multicast_port": 0})), "ERR_OUT_OF_RANGE");
    assert_eq!(code(json!({"election_priority": 100})), "ERR_OUT_OF_RANGE");
    assert_eq!(code(json!(7)), "ERR_INVALID_ARG_TYPE");
  }

  #[test]
  fn null_values_fall_back_to_defaults_and_non_objects_are_refused() {
    let o = NodeOptions::from_json(&json!({"multicast_port": null})).unwrap();
    assert_eq!(o.multicast_port, 45555);
    assert!(NodeOptions::from_json(&json!(null)).is_ok());
    assert_eq!(err(json!([1])), "options must be an object, got [1]");
  }
}

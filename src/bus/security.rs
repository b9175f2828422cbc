//! CURVE or PLAIN on a cluster's data path (`createNode({ curve })` / `({ plain })`). Any node may be elected
//! forwarder, so every node holds the server side's secret, and every node connects as a client:
//! - `curve: { publicKey, secretKey, serverKey?, clients? }`: the forwarder serves with `secretKey`; links
//!   connect with the node's pair to `serverKey` (default: `publicKey`, one key pair for the whole cluster);
//!   `clients` restricts which client keys a forwarder accepts.
//! - `plain: { username, password }`: links log in with them; the forwarder accepts exactly that user.
//!
//! - `cluster_key`: CURVE with one cluster key pair derived from the key (see `super::auth`), so every
//!   node holding the key serves and connects with it; `curve`/`plain` cannot be given with it.
//!
//! Nodes without the same settings cannot join the data path (they are refused and counted); mixed clusters
//! with the original JavaScript nodes work only without security, as those speak NULL.

use std::collections::HashMap;

use serde_json::Value;

use super::options::OptionsError;
use crate::zmtp::mechanism::MechanismConfig;
use crate::zmtp::security::{CurveParams, PlainParams, SecurityError, SecurityParams};

/// The mechanisms of a node's two roles.
#[derive(Debug, Clone, Default)]
pub struct BusSecurity {
  /// The options as given, for equality.
  source: String,
  /// The forwarder's listening sides.
  pub server: MechanismConfig,
  /// The node's links to a forwarder.
  pub client: MechanismConfig,
}

impl PartialEq for BusSecurity {
  fn eq(&self, other: &Self) -> bool {
    self.source == other.source
  }
}

impl Eq for BusSecurity {}

fn invalid(option: &'static str, value: &Value, err: &SecurityError) -> OptionsError {
  let reason = match err {
    SecurityError::BadKey(_) => "has a key that is not 32 bytes in Z85 (40 characters)",
    SecurityError::Missing(_) => "misses a required key",
    SecurityError::KeyMismatch => "has a publicKey that does not belong to its secretKey",
    SecurityError::Both => "cannot be combined with the other mechanism",
  };
  OptionsError::Invalid {
    option,
    value: value.to_string(),
    reason,
  }
}

fn parse<T: serde::de::DeserializeOwned>(
  option: &'static str,
  value: &Value,
) -> Result<T, OptionsError> {
  serde_json::from_value(value.clone()).map_err(|_| OptionsError::Invalid {
    option,
    value: value.to_string(),
    reason: "is not an object of keys",
  })
}

impl BusSecurity {
  /// Reads `curve` / `plain` from the options object (absent or `null`: NULL, no security).
  ///
  /// # Errors
  /// [`OptionsError::Invalid`] naming the option.
  pub fn from_options(curve: Option<&Value>, plain: Option<&Value>) -> Result<Self, OptionsError> {
    let curve = curve.filter(|v| !v.is_null());
    let plain = plain.filter(|v| !v.is_null());
    let source = format!("{curve:?}/{plain:?}");
    match (curve, plain) {
      (None, None) => Ok(Self::default()),
      (Some(c), Some(_)) => Err(invalid("curve", c, &SecurityError::Both)),
      (Some(c), None) => {
        let params: CurveParams = parse("curve", c)?;
        let fail = |e: SecurityError| invalid("curve", c, &e);
        let server = SecurityParams {
          curve: Some(params.clone()),
          plain: None,
        };
        let public = params.public_key.clone().or_else(|| {
          let secret = params.secret_key.as_deref()?;
          let key = crate::zmtp::mechanism::z85::decode_key(secret.as_bytes()).ok()?;
          crate::zmtp::mechanism::z85::encode(&crate::zmtp::mechanism::curve::public_key_of(&key))
            .ok()
        });
        let client = SecurityParams {
          curve: Some(CurveParams {
            server_key: params.server_key.clone().or(public),
            clients: None,
            ..params
          }),
          plain: None,
        };
        Ok(Self {
          source,
          server: server.server().map_err(fail)?,
          client: client.client().map_err(fail)?,
        })
      }
      (None, Some(p)) => {
        let params: PlainParams = parse("plain", p)?;
        let fail = |e: SecurityError| invalid("plain", p, &e);
        let user = params
          .username
          .clone()
          .ok_or(SecurityError::Missing("plain.username"))
          .map_err(fail)?;
        let users = HashMap::from([(user, params.password.clone().unwrap_or_default())]);
        let server = SecurityParams {
          curve: None,
          plain: Some(PlainParams {
            users: Some(users),
            ..PlainParams::default()
          }),
        };
        let client = SecurityParams {
          curve: None,
          plain: Some(params),
        };
        Ok(Self {
          source,
          server: server.server().map_err(fail)?,
          client: client.client().map_err(fail)?,
        })
      }
    }
  }

  /// CURVE with the cluster key pair derived from `key`: every node serves with its secret and
  /// connects with the same pair to its public key.
  ///
  /// # Errors
  /// None in practice (a derived secret is always a valid key); mapped like `curve` errors.
  pub fn from_cluster_key(key: &super::auth::ClusterKey) -> Result<Self, OptionsError> {
    let hidden = Value::String("(derived from cluster_key)".into());
    let secret = crate::zmtp::mechanism::z85::encode(&key.curve_secret)
      .map_err(|_| invalid("cluster_key", &hidden, &SecurityError::BadKey("secret")))?;
    let mut sec = Self::from_options(Some(&serde_json::json!({ "secretKey": secret })), None)?;
    // The source only serves equality; keep the secret out of Debug output.
    let public = crate::zmtp::mechanism::curve::public_key_of(&key.curve_secret);
    sec.source = format!(
      "cluster_key/{}",
      public
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
    );
    Ok(sec)
  }

  /// Whether a mechanism other than NULL is in use.
  pub fn is_set(&self) -> bool {
    !matches!(self.server, MechanismConfig::Null)
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::zmtp::mechanism::curve::curve_keypair;
  use crate::zmtp::mechanism::z85;
  use serde_json::json;

  #[test]
  fn one_cluster_key_pair_serves_and_connects() {
    let pair = curve_keypair();
    let curve = json!({ "secretKey": z85::encode(&pair.secret).unwrap() });
    let sec = BusSecurity::from_options(Some(&curve), None).unwrap();
    assert!(sec.is_set());
    let MechanismConfig::CurveClient { keys, server_key } = &sec.client else {
      panic!("not a curve client");
    };
    assert_eq!(server_key, &pair.public);
    assert_eq!(keys.public, pair.public);
    assert!(matches!(
      sec.server,
      MechanismConfig::CurveServer {
        authenticator: None,
        ..
      }
    ));
  }

  #[test]
  fn a_cluster_key_gives_every_node_the_same_derived_curve_pair() {
    let opts = |v: Value| super::super::options::NodeOptions::from_json(&v);
    let a = opts(json!({ "cluster_key": "0123456789abcdef-one" })).unwrap();
    let b = opts(json!({ "cluster_key": "0123456789abcdef-one" })).unwrap();
    let c = opts(json!({ "cluster_key": "0123456789abcdef-two" })).unwrap();
    assert!(a.security.is_set() && a.cluster_key.is_some());
    assert_eq!(a.security, b.security);
    assert_ne!(a.security, c.security);
    let MechanismConfig::CurveClient { keys, server_key } = &a.security.client else {
      panic!("not a curve client");
    };
    assert_eq!(server_key, &keys.public, "one cluster key pair");
    assert!(
      !format!("{:?}", a).contains("0123456789abcdef"),
      "the key never shows"
    );
  }

  #[test]
  fn cluster_key_errors_hide_the_key_and_carry_a_code() {
    let err = |v: Value| super::super::options::NodeOptions::from_json(&v).unwrap_err();
    let short = err(json!({ "cluster_key": "secret" }));
    assert_eq!(
      short.to_string(),
      "cluster_key '(6 bytes)' is shorter than 16 bytes"
    );
    assert_eq!(short.code(), "ERR_INVALID_ARG_VALUE");
    let typed = err(json!({ "cluster_key": 42 }));
    assert_eq!(typed.code(), "ERR_INVALID_ARG_TYPE");
    let both = err(json!({ "cluster_key": "0123456789abcdef", "plain": { "username": "u" } }));
    assert!(both.to_string().contains("cannot be combined"), "{both}");
    assert!(!both.to_string().contains("0123456789abcdef"));
  }

  #[test]
  fn plain_logs_in_and_accepts_the_same_user() {
    let plain = json!({ "username": "bus", "password": "pw" });
    let sec = BusSecurity::from_options(None, Some(&plain)).unwrap();
    assert!(matches!(sec.client, MechanismConfig::PlainClient { .. }));
    assert!(matches!(
      sec.server,
      MechanismConfig::PlainServer {
        authenticator: Some(_)
      }
    ));
  }

  #[test]
  fn bad_settings_name_the_option() {
    let err = BusSecurity::from_options(Some(&json!({ "secretKey": "nope" })), None).unwrap_err();
    assert!(err.to_string().starts_with("curve "), "{err}");
    let err = BusSecurity::from_options(Some(&json!("x")), None).unwrap_err();
    assert!(err.to_string().contains("is not an object"), "{err}");
    let err = BusSecurity::from_options(None, Some(&json!({ "password": "x" }))).unwrap_err();
    assert!(err.to_string().starts_with("plain "), "{err}");
    assert!(!BusSecurity::from_options(None, Some(&Value::Null))
      .unwrap()
      .is_set());
  }
}

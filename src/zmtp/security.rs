//! Security options as every engine takes them from JS (`conf.curve`, `conf.plain`), turned into a session's
//! [`MechanismConfig`] for a listening (server) or connecting (client) side.
//!
//! - CURVE server: `{ secretKey, publicKey?, clients? }`; `clients` is an allow-list of client public keys
//!   (absent: every client that completes a valid handshake, as libzmq without a ZAP handler).
//! - CURVE client: `{ serverKey, publicKey?, secretKey? }`; with neither key of its own, a fresh pair is made
//!   (a server with an allow-list will refuse it, one without will serve it).
//! - PLAIN server: `{ users: { name: password } }`; PLAIN client: `{ username, password }`.
//!
//! Keys are 40 Z85 characters (the JS facade turns 32-byte Buffers into Z85). Passwords are compared in
//! constant time. Nothing secret reaches a log or an error message.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use thiserror::Error;

use super::mechanism::curve::{curve_keypair, public_key_of, CurveKeyPair};
use super::mechanism::z85;
use super::mechanism::zap::{Authenticator, ZapCredentials, ZapReply, ZapRequest};
use super::mechanism::MechanismConfig;

/// A security option that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SecurityError {
  /// A key that is not 40 Z85 characters (32 bytes).
  #[error("{0} must be a 32-byte key in Z85 (40 characters)")]
  BadKey(&'static str),
  /// A required option is missing for this side.
  #[error("{0} is required")]
  Missing(&'static str),
  /// `publicKey` does not belong to `secretKey`.
  #[error("curve.publicKey does not match curve.secretKey")]
  KeyMismatch,
  /// Both mechanisms were given.
  #[error("curve and plain cannot be used together")]
  Both,
}

/// CURVE options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurveParams {
  /// Our long-term public key.
  pub public_key: Option<String>,
  /// Our long-term secret key.
  pub secret_key: Option<String>,
  /// The server's public key (clients).
  pub server_key: Option<String>,
  /// Client public keys a server accepts (absent: any).
  pub clients: Option<Vec<String>>,
}

/// PLAIN options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlainParams {
  /// Client username.
  pub username: Option<String>,
  /// Client password.
  pub password: Option<String>,
  /// Server: who may connect.
  pub users: Option<HashMap<String, String>>,
}

/// The security part of an engine's configuration (flatten it into the engine's params).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityParams {
  /// CURVE.
  pub curve: Option<CurveParams>,
  /// PLAIN.
  pub plain: Option<PlainParams>,
}

fn key(text: &Option<String>, name: &'static str) -> Result<Option<[u8; 32]>, SecurityError> {
  match text {
    None => Ok(None),
    Some(t) if t.len() == 40 => z85::decode_key(t.as_bytes())
      .map(Some)
      .map_err(|_| SecurityError::BadKey(name)),
    Some(_) => Err(SecurityError::BadKey(name)),
  }
}

/// A CURVE allow-list of client public keys; the user id is the key in Z85.
struct AllowList(Vec<[u8; 32]>);

impl Authenticator for AllowList {
  fn authenticate(&self, request: &ZapRequest<'_>) -> ZapReply {
    match request.credentials {
      ZapCredentials::Curve { public_key } if self.0.iter().any(|k| k == public_key) => {
        ZapReply::allow(z85::encode(public_key).unwrap_or_default())
      }
      _ => ZapReply::deny(),
    }
  }
}

/// PLAIN users; the user id is the username.
struct Users(HashMap<String, String>);

impl Authenticator for Users {
  fn authenticate(&self, request: &ZapRequest<'_>) -> ZapReply {
    let ZapCredentials::Plain { username, password } = request.credentials else {
      return ZapReply::deny();
    };
    let known = std::str::from_utf8(username)
      .ok()
      .and_then(|u| self.0.get(u));
    match known {
      Some(p) if bool::from(p.as_bytes().ct_eq(password)) => {
        ZapReply::allow(Bytes::copy_from_slice(username))
      }
      _ => ZapReply::deny(),
    }
  }
}

impl SecurityParams {
  /// Whether any mechanism other than NULL is asked for.
  pub fn is_set(&self) -> bool {
    self.curve.is_some() || self.plain.is_some()
  }

  /// The mechanism of a listening side (broker, forwarder).
  ///
  /// # Errors
  /// A missing or malformed key, both mechanisms at once.
  pub fn server(&self) -> Result<MechanismConfig, SecurityError> {
    match (&self.curve, &self.plain) {
      (Some(_), Some(_)) => Err(SecurityError::Both),
      (None, None) => Ok(MechanismConfig::Null),
      (Some(c), None) => {
        let secret = key(&c.secret_key, "curve.secretKey")?
          .ok_or(SecurityError::Missing("curve.secretKey"))?;
        if let Some(public) = key(&c.public_key, "curve.publicKey")? {
          if public != public_key_of(&secret) {
            return Err(SecurityError::KeyMismatch);
          }
        }
        let authenticator = match &c.clients {
          None => None,
          Some(list) => {
            let keys = list
              .iter()
              .map(|k| key(&Some(k.clone()), "curve.clients[]").map(|k| k.unwrap_or_default()))
              .collect::<Result<Vec<_>, _>>()?;
            Some(Arc::new(AllowList(keys)) as Arc<dyn Authenticator>)
          }
        };
        Ok(MechanismConfig::CurveServer {
          secret_key: secret,
          authenticator,
        })
      }
      (None, Some(p)) => {
        let users = p
          .users
          .clone()
          .ok_or(SecurityError::Missing("plain.users"))?;
        Ok(MechanismConfig::PlainServer {
          authenticator: Some(Arc::new(Users(users))),
        })
      }
    }
  }

  /// The mechanism of a connecting side (worker, client, bus node).
  ///
  /// # Errors
  /// A missing or malformed key, a public key without its secret, both mechanisms at once.
  pub fn client(&self) -> Result<MechanismConfig, SecurityError> {
    match (&self.curve, &self.plain) {
      (Some(_), Some(_)) => Err(SecurityError::Both),
      (None, None) => Ok(MechanismConfig::Null),
      (Some(c), None) => {
        let server_key = key(&c.server_key, "curve.serverKey")?
          .ok_or(SecurityError::Missing("curve.serverKey"))?;
        let keys = match (
          key(&c.public_key, "curve.publicKey")?,
          key(&c.secret_key, "curve.secretKey")?,
        ) {
          (None, None) => curve_keypair(),
          (public, Some(secret)) => {
            let derived = public_key_of(&secret);
            if public.is_some_and(|p| p != derived) {
              return Err(SecurityError::KeyMismatch);
            }
            CurveKeyPair {
              public: derived,
              secret,
            }
          }
          (Some(_), None) => return Err(SecurityError::Missing("curve.secretKey")),
        };
        Ok(MechanismConfig::CurveClient { keys, server_key })
      }
      (None, Some(p)) => {
        let username = p
          .username
          .clone()
          .ok_or(SecurityError::Missing("plain.username"))?;
        let password = p.password.clone().unwrap_or_default();
        Ok(MechanismConfig::PlainClient {
          username: Bytes::from(username),
          password: Bytes::from(password),
        })
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::zmtp::greeting::MechanismName;

  fn z(k: &[u8; 32]) -> String {
    z85::encode(k).unwrap()
  }

  fn params(json: &str) -> SecurityParams {
    serde_json::from_str(json).unwrap()
  }

  #[test]
  fn nothing_set_is_null_on_both_sides() {
    let p = SecurityParams::default();
    assert!(!p.is_set());
    assert!(matches!(p.server().unwrap(), MechanismConfig::Null));
    assert!(matches!(p.client().unwrap(), MechanismConfig::Null));
  }

  #[test]
  fn a_curve_server_with_an_allow_list_admits_listed_keys_only() {
    let (server, ok, other) = (curve_keypair(), curve_keypair(), curve_keypair());
    let p = params(&format!(
      r#"{{"curve":{{"secretKey":"{}","publicKey":"{}","clients":["{}"]}}}}"#,
      z(&server.secret),
      z(&server.public),
      z(&ok.public)
    ));
    let MechanismConfig::CurveServer {
      secret_key,
      authenticator: Some(auth),
    } = p.server().unwrap()
    else {
      panic!("not a curve server with an authenticator");
    };
    assert_eq!(secret_key, server.secret);
    let ask = |k: &[u8; 32]| {
      auth.authenticate(&ZapRequest {
        mechanism: MechanismName::Curve,
        credentials: ZapCredentials::Curve { public_key: k },
        domain: b"",
      })
    };
    assert_eq!(ask(&ok.public).status, 200);
    assert_eq!(&ask(&ok.public).user_id[..], z(&ok.public).as_bytes());
    assert_eq!(ask(&other.public).status, 400);
  }

  #[test]
  fn curve_keys_are_checked_for_form_and_for_belonging_together() {
    let (a, b) = (curve_keypair(), curve_keypair());
    let mismatch = params(&format!(
      r#"{{"curve":{{"secretKey":"{}","publicKey":"{}"}}}}"#,
      z(&a.secret),
      z(&b.public)
    ));
    assert_eq!(mismatch.server().unwrap_err(), SecurityError::KeyMismatch);
    let short = params(r#"{"curve":{"secretKey":"abc"}}"#);
    assert_eq!(
      short.server().unwrap_err(),
      SecurityError::BadKey("curve.secretKey")
    );
    assert_eq!(
      params(r#"{"curve":{}}"#).server().unwrap_err(),
      SecurityError::Missing("curve.secretKey")
    );
    assert_eq!(
      params(r#"{"curve":{}}"#).client().unwrap_err(),
      SecurityError::Missing("curve.serverKey")
    );
    let both = params(&format!(
      r#"{{"curve":{{"secretKey":"{}"}},"plain":{{"users":{{}}}}}}"#,
      z(&a.secret)
    ));
    assert_eq!(both.server().unwrap_err(), SecurityError::Both);
  }

  #[test]
  fn a_curve_client_without_keys_of_its_own_gets_a_fresh_pair() {
    let server = curve_keypair();
    let p = params(&format!(
      r#"{{"curve":{{"serverKey":"{}"}}}}"#,
      z(&server.public)
    ));
    let MechanismConfig::CurveClient { keys, server_key } = p.client().unwrap() else {
      panic!("not a curve client");
    };
    assert_eq!(server_key, server.public);
    assert_eq!(keys.public, public_key_of(&keys.secret));
  }

  #[test]
  fn plain_users_are_checked_by_name_and_password() {
    let p = params(r#"{"plain":{"users":{"alice":"s3cret"}}}"#);
    let MechanismConfig::PlainServer {
      authenticator: Some(auth),
    } = p.server().unwrap()
    else {
      panic!("not a plain server");
    };
    let ask = |u: &[u8], pw: &[u8]| {
      auth
        .authenticate(&ZapRequest {
          mechanism: MechanismName::Plain,
          credentials: ZapCredentials::Plain {
            username: u,
            password: pw,
          },
          domain: b"",
        })
        .status
    };
    assert_eq!(ask(b"alice", b"s3cret"), 200);
    assert_eq!(ask(b"alice", b"s3cre"), 400);
    assert_eq!(ask(b"bob", b"s3cret"), 400);
    let client = params(r#"{"plain":{"username":"alice","password":"s3cret"}}"#);
    assert!(matches!(
      client.client().unwrap(),
      MechanismConfig::PlainClient { .. }
    ));
    assert_eq!(
      params(r#"{"plain":{}}"#).server().unwrap_err(),
      SecurityError::Missing("plain.users")
    );
  }
}

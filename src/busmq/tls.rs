//! TLS for `rediss://` urls and for `redisOptions.tls` (or a node-redis/ioredis client's TLS
//! options): the settings, the `redis` client built from them (rustls on ring, no OpenSSL), and
//! the error codes a failed handshake gets, named as Node's `tls` module names them.

use super::keys::RedisTarget;
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisResult};

/// How one bus talks TLS to Redis.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
  /// PEM certificates of the CAs to trust instead of the system's (`tls.ca`).
  pub ca: Option<String>,
  /// PEM client certificate chain, for servers that ask for one (`tls.cert`).
  pub cert: Option<String>,
  /// PEM private key of `cert` (`tls.key`).
  pub key: Option<String>,
  /// Accept any certificate (`tls.rejectUnauthorized: false`).
  pub insecure: bool,
}

impl std::fmt::Debug for TlsSettings {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    // The key is a secret and the certificates are long: say only which are set.
    f.debug_struct("TlsSettings")
      .field("ca", &self.ca.is_some())
      .field("cert", &self.cert.is_some())
      .field("key", &self.key.is_some())
      .field("insecure", &self.insecure)
      .finish()
  }
}

impl TlsSettings {
  /// The certificates the `redis` crate takes, or `None` when the system's CAs and no client
  /// certificate will do.
  fn certificates(&self) -> Option<redis::TlsCertificates> {
    if self.ca.is_none() && self.cert.is_none() {
      return None;
    }
    let client_tls = match (&self.cert, &self.key) {
      (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
        client_cert: cert.clone().into_bytes(),
        client_key: key.clone().into_bytes(),
      }),
      _ => None,
    };
    Some(redis::TlsCertificates {
      client_tls,
      root_cert: self.ca.clone().map(String::into_bytes),
    })
  }
}

/// The connection settings of `target` (TLS when it has TLS settings).
///
/// # Errors
/// When the `redis` crate refuses the address.
pub fn connection_info(target: &RedisTarget) -> RedisResult<redis::ConnectionInfo> {
  let mut redis_info = RedisConnectionInfo::default().set_db(target.db);
  if let Some(user) = &target.username {
    redis_info = redis_info.set_username(user);
  }
  if let Some(pass) = &target.password {
    redis_info = redis_info.set_password(pass);
  }
  let addr = match &target.tls {
    None => ConnectionAddr::Tcp(target.host.clone(), target.port),
    Some(tls) => ConnectionAddr::TcpTls {
      host: target.host.clone(),
      port: target.port,
      insecure: tls.insecure,
      tls_params: None,
    },
  };
  Ok(addr.into_connection_info()?.set_redis_settings(redis_info))
}

/// A client for `target`, with its CA and client certificate when it has them.
///
/// # Errors
/// A certificate or key that is not PEM.
pub fn client(target: &RedisTarget) -> RedisResult<redis::Client> {
  let info = connection_info(target)?;
  match target.tls.as_ref().and_then(TlsSettings::certificates) {
    Some(certs) => redis::Client::build_with_tls(info, certs),
    None => redis::Client::open(info),
  }
}

/// The Node `tls` error code for a failed handshake, from the error's text (the `redis` crate
/// keeps rustls's error only as text). `None` when the text is not a TLS failure.
pub fn handshake_code(message: &str) -> Option<&'static str> {
  let cert = message.contains("invalid peer certificate")
    || message.contains("certificate expired")
    || message.contains("certificate not valid");
  if cert {
    return Some(
      if message.contains("UnknownIssuer") || message.contains("BadSignature") {
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
      } else if message.contains("xpired") {
        "CERT_HAS_EXPIRED"
      } else if message.contains("NotValidForName") || message.contains("not valid for name") {
        "ERR_TLS_CERT_ALTNAME_INVALID"
      } else {
        "ERR_TLS_CERT_INVALID"
      },
    );
  }
  let handshake = [
    "received fatal alert",
    "received corrupt message",
    "received unexpected",
    "peer is incompatible",
    "peer misbehaved",
    "peer sent no certificates",
  ];
  handshake
    .iter()
    .any(|m| message.contains(m))
    .then_some("EPROTO")
}

#[cfg(test)]
mod tests {
  use super::*;
  use rustls::{AlertDescription, CertificateError, Error as TlsError, InvalidMessage};

  fn code_of(err: TlsError) -> Option<&'static str> {
    // As tokio-rustls hands it over: an io::Error around rustls's error, inside a RedisError.
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
    handshake_code(&redis::RedisError::from(io).to_string())
  }

  #[test]
  fn unknown_ca_is_unable_to_verify_leaf_signature() {
    let err = TlsError::InvalidCertificate(CertificateError::UnknownIssuer);
    assert_eq!(code_of(err), Some("UNABLE_TO_VERIFY_LEAF_SIGNATURE"));
  }

  #[test]
  fn expired_and_wrong_name_get_node_codes() {
    let expired = TlsError::InvalidCertificate(CertificateError::Expired);
    assert_eq!(code_of(expired), Some("CERT_HAS_EXPIRED"));
    let name = TlsError::InvalidCertificate(CertificateError::NotValidForName);
    assert_eq!(code_of(name), Some("ERR_TLS_CERT_ALTNAME_INVALID"));
    let revoked = TlsError::InvalidCertificate(CertificateError::Revoked);
    assert_eq!(code_of(revoked), Some("ERR_TLS_CERT_INVALID"));
  }

  #[test]
  fn a_broken_handshake_is_eproto() {
    let alert = TlsError::AlertReceived(AlertDescription::HandshakeFailure);
    assert_eq!(code_of(alert), Some("EPROTO"));
    let garbage = TlsError::InvalidMessage(InvalidMessage::InvalidContentType);
    assert_eq!(code_of(garbage), Some("EPROTO"));
  }

  #[test]
  fn other_io_errors_are_not_tls() {
    assert_eq!(handshake_code("Connection refused (os error 111)"), None);
  }

  #[test]
  fn rediss_url_without_settings_uses_the_system_cas() {
    let mut t = RedisTarget::parse("rediss://127.0.0.1:6380").unwrap();
    assert!(t.tls.as_ref().is_some_and(|s| s.certificates().is_none()));
    let info = connection_info(&t).unwrap();
    assert!(matches!(
      info.addr(),
      ConnectionAddr::TcpTls {
        insecure: false,
        ..
      }
    ));
    t.tls = Some(TlsSettings {
      insecure: true,
      ..TlsSettings::default()
    });
    let info = connection_info(&t).unwrap();
    assert!(matches!(
      info.addr(),
      ConnectionAddr::TcpTls { insecure: true, .. }
    ));
  }

  #[test]
  fn a_ca_that_is_not_pem_is_refused_when_the_client_is_built() {
    let mut t = RedisTarget::parse("rediss://127.0.0.1:6380").unwrap();
    t.tls = Some(TlsSettings {
      ca: Some("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into()),
      ..TlsSettings::default()
    });
    assert!(client(&t).is_err());
  }
}

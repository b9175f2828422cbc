//! A ZAP-style (RFC 27) authenticator hook, called synchronously by server mechanisms.
//!
//! Synchronous on purpose: the drivers (libuv on a JS thread, or a Rust thread) can call a JS function or an
//! allow-list in place. Status codes keep ZAP's meaning: 200 allow, 300 temporary failure (close silently),
//! 400 refused (ERROR "400"), 500 internal error (ERROR "500").

use bytes::Bytes;

use super::super::greeting::MechanismName;

/// What the client presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZapCredentials<'a> {
  /// NULL: nothing.
  Null,
  /// PLAIN: username and password.
  Plain {
    /// Username bytes.
    username: &'a [u8],
    /// Password bytes.
    password: &'a [u8],
  },
  /// CURVE: the client's long-term public key.
  Curve {
    /// 32-byte public key.
    public_key: &'a [u8; 32],
  },
}

/// One authentication question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZapRequest<'a> {
  /// The mechanism in use.
  pub mechanism: MechanismName,
  /// The client's credentials.
  pub credentials: ZapCredentials<'a>,
  /// The server socket's `ZMQ_ZAP_DOMAIN` (empty when none is set).
  pub domain: &'a [u8],
}

/// The authenticator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZapReply {
  /// 200, 300, 400 or 500, as ZAP.
  pub status: u16,
  /// The user id to attach to the peer (`User-Id`), may be empty.
  pub user_id: Bytes,
}

impl ZapReply {
  /// Allow, with a user id.
  pub fn allow(user_id: impl Into<Bytes>) -> Self {
    Self {
      status: 200,
      user_id: user_id.into(),
    }
  }

  /// Refuse (status 400).
  pub fn deny() -> Self {
    Self {
      status: 400,
      user_id: Bytes::new(),
    }
  }
}

/// Decides whether a client may connect.
pub trait Authenticator: Send + Sync {
  /// Answers one request.
  fn authenticate(&self, request: &ZapRequest<'_>) -> ZapReply;
}

impl<F> Authenticator for F
where
  F: Fn(&ZapRequest<'_>) -> ZapReply + Send + Sync,
{
  fn authenticate(&self, request: &ZapRequest<'_>) -> ZapReply {
    self(request)
  }
}

/// Asks `auth` and turns the answer into the user id, or the refusal plus the ERROR reason to send (none for
/// 300 and for statuses ZAP does not define, which close silently).
pub(crate) fn ask(
  auth: &dyn Authenticator,
  request: &ZapRequest<'_>,
) -> Result<Bytes, (crate::zmtp::error::ZmtpError, Option<String>)> {
  let reply = auth.authenticate(request);
  let refused = crate::zmtp::error::ZmtpError::AuthRefused(reply.status);
  match reply.status {
    200 => Ok(reply.user_id),
    400 | 500 => Err((refused, Some(reply.status.to_string()))),
    _ => Err((refused, None)),
  }
}

/// An authenticator asked on behalf of a socket with a `ZMQ_ZAP_DOMAIN`: every request it passes on carries
/// that domain, as libzmq's ZAP requests do.
pub struct InDomain {
  domain: Bytes,
  inner: std::sync::Arc<dyn Authenticator>,
}

impl InDomain {
  /// `inner`, asked with `domain` in every request.
  pub fn wrap(
    domain: Bytes,
    inner: std::sync::Arc<dyn Authenticator>,
  ) -> std::sync::Arc<dyn Authenticator> {
    std::sync::Arc::new(Self { domain, inner })
  }
}

impl Authenticator for InDomain {
  fn authenticate(&self, request: &ZapRequest<'_>) -> ZapReply {
    let request = ZapRequest {
      domain: &self.domain,
      ..*request
    };
    self.inner.authenticate(&request)
  }
}

#[cfg(test)]
mod tests {
  use std::sync::{Arc, Mutex};

  use super::*;

  #[test]
  fn a_wrapped_authenticator_sees_the_sockets_domain() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let inner = Arc::new(move |r: &ZapRequest<'_>| {
      log.lock().unwrap().push(r.domain.to_vec());
      ZapReply::allow("u")
    });
    let auth = InDomain::wrap(Bytes::from_static(b"global"), inner);
    let request = ZapRequest {
      mechanism: MechanismName::Plain,
      credentials: ZapCredentials::Plain {
        username: b"a",
        password: b"b",
      },
      domain: b"",
    };
    assert_eq!(auth.authenticate(&request).status, 200);
    assert_eq!(*seen.lock().unwrap(), vec![b"global".to_vec()]);
  }
}

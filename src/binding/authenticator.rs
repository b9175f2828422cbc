//! A JS function as a server socket's authenticator (issue: the wire engine, a ZAP-style hook). Server
//! mechanisms ask their authenticator synchronously during a handshake; a socket on its JS thread runs its
//! handshakes on that thread, so the function is called in place, with what the client presented, and its
//! answer admits or refuses the peer. No request ever waits on another thread.
//!
//! The function receives `(mechanism, domain, a, b)`: for PLAIN `a` and `b` are the username and password,
//! for CURVE `a` is the client's public key in Z85. It answers a string (admitted, with that user id) or a
//! number (ZAP's 300, 400 or 500: refused). The facade (`lib/socket.js`) turns the user's handler and its
//! answer into that shape, and catches what it throws.

use std::ptr;

use bytes::Bytes;
use napi::bindgen_prelude::{FnArgs, Function, JsValue, Unknown};
use napi::{sys, Env};

use crate::uvloop::task::thread_token;
use crate::zmtp::mechanism::z85;
use crate::zmtp::mechanism::{Authenticator, ZapCredentials, ZapReply, ZapRequest};

/// The JS side of a handler: `(mechanism, domain, a, b) => userId | status`.
pub type Handler<'a> = Function<'a, FnArgs<(String, String, String, String)>, Unknown<'a>>;

/// Longest user id taken from an answer; a longer one is cut (ZAP's User-Id is informational).
const MAX_USER_ID: usize = 255;

/// A JS function asked on the thread that made it.
pub struct JsAuthenticator {
  env: sys::napi_env,
  func: sys::napi_ref,
  home: usize,
}

// SAFETY: the raw handles are used only on the thread that made them (`home`, checked in `authenticate` and
// `drop`); the `Authenticator` bound asks for Send + Sync because other authenticators serve Rust threads.
unsafe impl Send for JsAuthenticator {}
unsafe impl Sync for JsAuthenticator {}

impl JsAuthenticator {
  /// Keeps `handler` for calls on this thread.
  ///
  /// # Errors
  /// When napi refuses the reference (the env is shutting down).
  pub fn new(env: &Env, handler: &Handler<'_>) -> napi::Result<Self> {
    let mut func = ptr::null_mut();
    // SAFETY: a plain napi call on the calling (JS) thread with its env.
    let status =
      unsafe { sys::napi_create_reference(env.raw(), handler.value().value, 1, &mut func) };
    if status != sys::Status::napi_ok {
      return Err(napi::Error::from_reason("napi_create_reference failed"));
    }
    Ok(Self {
      env: env.raw(),
      func,
      home: thread_token(),
    })
  }
}

impl Authenticator for JsAuthenticator {
  fn authenticate(&self, request: &ZapRequest<'_>) -> ZapReply {
    let internal = ZapReply {
      status: 500,
      user_id: Bytes::new(),
    };
    if thread_token() != self.home {
      return internal; // a socket moved off its thread cannot call JS: refuse rather than guess
    }
    let Some(args) = arguments(request) else {
      return ZapReply::deny();
    };
    // SAFETY: on the env's own thread (checked above).
    unsafe { self.call(&args) }.unwrap_or(internal)
  }
}

/// The four strings the JS side receives; `None` for credentials that are not UTF-8 (refused outright, so
/// that no two different passwords can reach JS as the same string).
fn arguments(request: &ZapRequest<'_>) -> Option<[String; 4]> {
  let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
  let domain = text(request.domain)?;
  Some(match request.credentials {
    ZapCredentials::Null => ["NULL".into(), domain, String::new(), String::new()],
    ZapCredentials::Plain { username, password } => {
      ["PLAIN".into(), domain, text(username)?, text(password)?]
    }
    ZapCredentials::Curve { public_key } => [
      "CURVE".into(),
      domain,
      z85::encode(public_key).ok()?,
      String::new(),
    ],
  })
}

impl JsAuthenticator {
  unsafe fn call(&self, args: &[String; 4]) -> Option<ZapReply> {
    let env = self.env;
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
      return None;
    }
    let answer = self.call_in_scope(args);
    sys::napi_close_handle_scope(env, scope);
    answer
  }

  unsafe fn call_in_scope(&self, args: &[String; 4]) -> Option<ZapReply> {
    let env = self.env;
    let mut func = ptr::null_mut();
    let mut recv = ptr::null_mut();
    if sys::napi_get_reference_value(env, self.func, &mut func) != sys::Status::napi_ok
      || func.is_null()
      || sys::napi_get_undefined(env, &mut recv) != sys::Status::napi_ok
    {
      return None;
    }
    let mut argv = [ptr::null_mut(); 4];
    for (slot, text) in argv.iter_mut().zip(args) {
      let status =
        sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, slot);
      if status != sys::Status::napi_ok {
        return None;
      }
    }
    let mut result = ptr::null_mut();
    if sys::napi_call_function(env, recv, func, argv.len(), argv.as_ptr(), &mut result)
      != sys::Status::napi_ok
    {
      // The facade catches the handler's throws; anything left is cleared so it reaches no other call.
      let mut pending = ptr::null_mut();
      sys::napi_get_and_clear_last_exception(env, &mut pending);
      return None;
    }
    reply_of(env, result)
  }
}

/// A string answer admits (with that user id), a number refuses with that ZAP status.
unsafe fn reply_of(env: sys::napi_env, value: sys::napi_value) -> Option<ZapReply> {
  let mut kind = 0;
  if sys::napi_typeof(env, value, &mut kind) != sys::Status::napi_ok {
    return None;
  }
  if kind == sys::ValueType::napi_number {
    let mut status = 0u32;
    sys::napi_get_value_uint32(env, value, &mut status);
    let status = match status {
      300 | 400 | 500 => status as u16,
      _ => 500,
    };
    return Some(ZapReply {
      status,
      user_id: Bytes::new(),
    });
  }
  if kind != sys::ValueType::napi_string {
    return None;
  }
  let mut buf = [0u8; MAX_USER_ID + 1];
  let mut len = 0usize;
  let status =
    sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), buf.len(), &mut len);
  (status == sys::Status::napi_ok).then(|| ZapReply::allow(Bytes::copy_from_slice(&buf[..len])))
}

impl Drop for JsAuthenticator {
  fn drop(&mut self) {
    if thread_token() != self.home {
      return; // never happens (a local socket's sessions stay on its thread); leaking beats another env
    }
    // SAFETY: on the env's thread; the reference is ours.
    unsafe {
      sys::napi_delete_reference(self.env, self.func);
    }
  }
}

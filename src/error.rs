//! The one mapping from Rust errors to JavaScript errors.
//!
//! Each layer keeps its own `thiserror` enum; at the boundary every one of them becomes a
//! JS `Error` whose `code` is a short POSIX-like string (`EINVAL`, `EAGAIN`, `EPROTO`...)
//! so JS callers can branch on `err.code` instead of parsing messages.

use napi::Status;

/// An error on its way to JavaScript: a stable code and a human message.
#[derive(Debug)]
pub struct JsError {
  /// Stable machine-readable code (`err.code` in JS).
  pub code: &'static str,
  /// Human-readable message.
  pub message: String,
}

impl JsError {
  /// A new error with `code` and `message`.
  pub fn new(code: &'static str, message: impl Into<String>) -> Self {
    Self { code, message: message.into() }
  }

  /// An invalid-argument error (`EINVAL`).
  pub fn invalid(message: impl Into<String>) -> Self {
    Self::new("EINVAL", message)
  }
}

impl From<JsError> for napi::Error<String> {
  fn from(err: JsError) -> Self {
    napi::Error::new(err.code.to_string(), err.message)
  }
}

impl From<JsError> for napi::Error<Status> {
  fn from(err: JsError) -> Self {
    // Only reached where a napi signature forces the default status type: keep the code in
    // the message so it is not lost.
    napi::Error::new(Status::GenericFailure, format!("{}: {}", err.code, err.message))
  }
}

/// The result type of `#[napi]` functions: errors carry a string code.
pub type JsResult<T> = std::result::Result<T, napi::Error<String>>;

//! CURVE keys for JS: key pairs, the public key of a secret, Z85 both ways.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::Buffer;

use crate::error::JsError;
use crate::zmtp::mechanism::{curve, z85};

/// A CURVE key pair in Z85.
#[napi_derive::napi(object)]
pub struct CurveKeyPairJs {
  /// Public key, 40 Z85 characters.
  pub public_key: String,
  /// Secret key, 40 Z85 characters.
  pub secret_key: String,
}

fn encode(key: &[u8; 32]) -> napi::Result<String, String> {
  z85::encode(key).map_err(|e| JsError::invalid(e.to_string()).into())
}

/// A fresh CURVE key pair (`zmq_curve_keypair`).
#[napi_derive::napi]
pub fn curve_key_pair() -> napi::Result<CurveKeyPairJs, String> {
  let keys = curve::curve_keypair();
  Ok(CurveKeyPairJs {
    public_key: encode(&keys.public)?,
    secret_key: encode(&keys.secret)?,
  })
}

/// The public key of a secret key, both in Z85 (`zmq_curve_public`).
#[napi_derive::napi]
pub fn curve_public(secret_key: String) -> napi::Result<String, String> {
  let secret = z85::decode_key(secret_key.as_bytes())
    .map_err(|_| JsError::invalid("secretKey must be a 32-byte key in Z85 (40 characters)"))?;
  encode(&curve::public_key_of(&secret))
}

/// Z85 text of `data`, whose length must be a multiple of 4 (`zmq_z85_encode`).
#[napi_derive::napi]
pub fn z85_encode(data: Buffer) -> napi::Result<String, String> {
  z85::encode(&data).map_err(|e| JsError::invalid(e.to_string()).into())
}

/// The bytes of Z85 `text`, whose length must be a multiple of 5 (`zmq_z85_decode`).
#[napi_derive::napi]
pub fn z85_decode(text: String) -> napi::Result<Buffer, String> {
  z85::decode(&text)
    .map(Buffer::from)
    .map_err(|e| JsError::invalid(e.to_string()).into())
}

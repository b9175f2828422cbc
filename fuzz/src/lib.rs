//! The ZMTP core compiled on its own for the fuzz targets. It needs no napi, no tokio and no other part of
//! zmqbus (which also proves the core does not assume a runtime), and its fuzz builds stay small.

#[path = "../../src/zmtp/mod.rs"]
pub mod zmtp;

/// The pigato (MDP) codec, which has no dependency beyond `bytes`.
#[path = "../../src/mdp/codec.rs"]
pub mod mdp_codec;

//! zmqbus: the native core. (Module map filled in as engines land.)
#![deny(clippy::all)]

pub mod mdp;

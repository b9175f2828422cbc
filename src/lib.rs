//! zmqbus: the native core. (Module map filled in as engines land.)
//!
//! - [`bus`]: the zmqbus node (multicast discovery, election, forwarder, data path).
#![deny(clippy::all)]

pub mod bus;

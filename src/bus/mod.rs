//! The zmqbus node: multicast discovery and election of one forwarder per
//! cluster, the node's own forwarder, and the pub/sub data path through the
//! elected forwarder.
//!
//! Layers: [`options`] (validated configuration), [`security`] (CURVE/PLAIN of the data path), [`codec`] (UDP datagrams),
//! [`auth`] (`cluster_key`: signed datagrams, replay window; counted refusals in `datagrams`),
//! [`election`] (pure state machine), [`forwarder`] (SUB -> PUB relay),
//! [`discovery`] (the UDP socket), [`link`] (data-path sockets to the elected
//! forwarder, connected by [`connect`]), [`eventloop`] (the task that owns all of them, with the data
//! path in `datapath`) and [`sink`] (where events go: a channel, or batched
//! records for JavaScript).

pub mod addresses;
pub mod api;
pub mod auth;
pub mod codec;
pub mod connect;
mod datagrams;
mod datapath;
pub mod discovery;
pub mod election;
pub mod eventloop;
pub mod forwarder;
pub mod link;
pub mod options;
pub mod security;
pub mod sink;

pub use codec::{CodecError, Datagram, NodeMeta};
pub use election::{Action, Election};
pub use eventloop::{spawn_node, spawn_node_with, BusError, NodeCommand, NodeEvent, NodeHandle};
pub use options::{NodeOptions, OptionsError};
pub use sink::{EventSink, OutboxSink};

//! The zmqbus node: multicast discovery and election of one forwarder per
//! cluster, the node's own forwarder, and the pub/sub data path through the
//! elected forwarder.
//!
//! Layers: [`options`] (validated configuration), [`codec`] (UDP datagrams),
//! [`election`] (pure state machine), [`forwarder`] (SUB -> PUB relay),
//! [`discovery`] (the UDP socket), [`link`] (data-path sockets to the elected
//! forwarder) and [`eventloop`] (the task that owns all of them).

pub mod codec;
pub mod discovery;
pub mod election;
pub mod eventloop;
pub mod forwarder;
pub mod link;
pub mod options;

pub use codec::{CodecError, Datagram, NodeMeta};
pub use election::{Action, Election};
pub use eventloop::{spawn_node, BusError, NodeCommand, NodeEvent, NodeHandle};
pub use options::{NodeOptions, OptionsError};

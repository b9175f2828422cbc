//! Floor 2: socket semantics over ZMTP sessions, as pure state machines. A driver (floor 3) owns the
//! connections and tells a socket state which connection became ready, sent a message or went away; the state
//! says where an outgoing message goes and what the application sees. No I/O, no clock.
//!
//! - [`router`]: ROUTER routing ids (the peer's `Identity`, or a generated `00` + u32), per-peer pipes with a
//!   high-water mark, peer connected/gone events.

pub mod router;

pub use router::{RouteError, RouterEvent, RouterState, RouterStats, Token};

//! What the napi handle (`crate::binding::sockets`) asks of a socket's loop: one [`Control`] per call, sent on
//! one channel so their order is kept.

use std::sync::mpsc::SyncSender;
use std::time::Duration;

use bytes::Bytes;

use super::options::SocketOptions;

/// The answer to a synchronous bind: the resolved endpoint or `(code, message)`.
pub type BindReply = Result<String, (&'static str, String)>;

/// What the napi handle asks of the loop. Sent on one channel, so order is kept.
#[derive(Debug)]
pub enum Control {
  /// A packed batch of `C_SEND` / `C_SEND_ACK` records.
  Batch(Bytes),
  /// Bind `ep`; answer with `E_BOUND`/`E_ERROR` tagged `req`, or on `reply` when synchronous.
  Bind {
    /// Request id echoed in the event.
    req: String,
    /// Endpoint to bind.
    ep: String,
    /// Set for `bindSync`: the JS thread waits on it.
    reply: Option<SyncSender<BindReply>>,
  },
  /// Unbind `ep`; answer with `E_UNBOUND`/`E_ERROR` tagged `req`.
  Unbind {
    /// Request id echoed in the event.
    req: String,
    /// Endpoint to unbind.
    ep: String,
  },
  /// Connect to `ep` (already validated by the handle).
  Connect(String),
  /// Disconnect from `ep`.
  Disconnect(String),
  /// Add a subscription prefix (SUB/XSUB).
  Subscribe(Bytes),
  /// Remove a subscription prefix (SUB/XSUB).
  Unsubscribe(Bytes),
  /// The socket's options changed: later binds/connects take them, the state's switches apply now.
  Options(Box<SocketOptions>),
  /// Counters of the socket's engine as JSON (`accepted`, `refused` by reason, `dial`...), for `statsSync`.
  Stats(SyncSender<String>),
  /// Monitor events on (`E_MONITOR` records) or off.
  Monitor(bool),
  /// Take part in a `zmq.proxy`: received messages go to the other side instead of JS, and what the other
  /// side received is sent here.
  Proxy(Box<super::proxy::ProxyEnd>),
  /// Stop taking messages from the socket.
  Pause,
  /// Take messages again.
  Resume,
  /// Close: stop reading, flush queued sends for at most `linger`, end with `E_CLOSED`.
  Close {
    /// How long queued messages may delay the close (`None`: up to [`super::eventloop::MAX_LINGER`]).
    linger: Option<Duration>,
  },
}

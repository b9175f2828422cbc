//! Record kinds of the MDP engine handles at the JS boundary, declared once: `lib/kinds.js` reads them
//! through the binding (`recordKinds().mdp`).

crate::record_kinds!(MDP_KINDS {
  /// Event: a (re)started session, `[socketId]`.
  E_STARTED = 1;
  /// Event: first message from the broker.
  E_CONNECT = 2;
  /// Event: broker lost (liveness) or told us to restart, `[reason]`.
  E_DISCONNECT = 3;
  /// Event: the loop has ended.
  E_STOPPED = 4;
  /// Event: `[code, message]`.
  E_ERROR = 5;
  /// Client event: the connection to the broker came up (`[b"1"]`) or closed (`[b"0"]`); the session lives on.
  E_LINK = 6;
  /// Client event: `[id: f64 LE, data]`, a partial reply to request `id`.
  E_PARTIAL = 10;
  /// Client event: `[id: f64 LE, data]`, the final reply to request `id`.
  E_FINAL = 11;
  /// Client event: `[id: f64 LE, error]`, request `id` failed (error reply, timeout, full queue).
  E_FAILED = 12;
  /// Worker event: `[slot: f64 LE, data, opts]`; the envelope (client id, rid) stays native, under `slot`.
  E_REQUEST = 20;
  /// Worker event: `[slot: f64 LE]`, the client heartbeated request `slot`.
  E_REQ_HEARTBEAT = 21;
  /// Worker event: `[slot: f64 LE]`, a request forgotten after its timeout.
  E_REQ_EXPIRED = 22;
  /// Broker event: `[rid, clientId, service, data, opts]`.
  E_PERSIST_SET = 30;
  /// Broker event: `[rid]`.
  E_PERSIST_DEL = 31;

  /// Client command: `[service, id: f64 LE, data, opts, timeoutMs: f64 LE]`; the rid on the wire is
  /// made from `id` (src/mdp/client_rid.rs).
  C_REQUEST = 1;
  /// Client command: `[rid]` (a wire rid as given by the user).
  C_REQ_HEARTBEAT = 2;
  /// Client command: `[workerId]`.
  C_WORKER_HEARTBEAT = 3;
  /// Client command: `[]`.
  C_HEARTBEAT = 4;
  /// Client command: `[id: f64 LE]`, forget a request (it moved to another broker).
  C_CANCEL = 5;
  /// Client command: `[id: f64 LE]`, heartbeat the worker serving request `id`.
  C_REQ_HEARTBEAT_ID = 6;
  /// Worker command: `[type: 1 byte '6'|'3'|'7', slot: f64 LE, failed: 1 byte 0|1, data, opts]`.
  W_REPLY = 10;
  /// Worker command: `[extra JSON]`.
  W_HEARTBEAT = 11;
  /// Worker command: `[n]`.
  W_CONCURRENCY = 12;
  /// Broker command: `[rid, clientId, service, data, opts]`.
  B_RESTORE = 20;
});

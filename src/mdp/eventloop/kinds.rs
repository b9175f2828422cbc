//! Record kinds of the MDP engine handles at the JS boundary; mirrors `lib/kinds.js` (keep the two in sync).

/// Event: a (re)started session, `[socketId]`.
pub const E_STARTED: u8 = 1;
/// Event: first message from the broker.
pub const E_CONNECT: u8 = 2;
/// Event: broker lost (liveness) or told us to restart, `[reason]`.
pub const E_DISCONNECT: u8 = 3;
/// Event: the loop has ended.
pub const E_STOPPED: u8 = 4;
/// Event: `[code, message]`.
pub const E_ERROR: u8 = 5;
/// Client event: the connection to the broker came up (`[b"1"]`) or closed (`[b"0"]`); the session lives on.
pub const E_LINK: u8 = 6;
/// Client event: `[rid, status, data]`.
pub const E_PARTIAL: u8 = 10;
/// Client event: `[rid, status, data]`.
pub const E_FINAL: u8 = 11;
/// Worker event: `[clientId, service, rid, data, opts]`.
pub const E_REQUEST: u8 = 20;
/// Worker event: `[rid]`.
pub const E_REQ_HEARTBEAT: u8 = 21;
/// Worker event: `[rid]`, a request forgotten after its timeout.
pub const E_REQ_EXPIRED: u8 = 22;
/// Broker event: `[rid, clientId, service, data, opts]`.
pub const E_PERSIST_SET: u8 = 30;
/// Broker event: `[rid]`.
pub const E_PERSIST_DEL: u8 = 31;

/// Client command: `[service, rid, data, opts, timeoutMs]`.
pub const C_REQUEST: u8 = 1;
/// Client command: `[rid]`.
pub const C_REQ_HEARTBEAT: u8 = 2;
/// Client command: `[workerId]`.
pub const C_WORKER_HEARTBEAT: u8 = 3;
/// Client command: `[]`.
pub const C_HEARTBEAT: u8 = 4;
/// Client command: `[rid]`, forget a request (it moved to another broker).
pub const C_CANCEL: u8 = 5;
/// Worker command: `[type, clientId, rid, status, data, opts]`.
pub const W_REPLY: u8 = 10;
/// Worker command: `[extra JSON]`.
pub const W_HEARTBEAT: u8 = 11;
/// Worker command: `[n]`.
pub const W_CONCURRENCY: u8 = 12;
/// Broker command: `[rid, clientId, service, data, opts]`.
pub const B_RESTORE: u8 = 20;

'use strict'
// Record kinds of the MDP engine handles (mirrors src/mdp/eventloop/kinds.rs; keep in sync).
module.exports = Object.freeze({
  // shared events (Rust -> JS)
  E_STARTED: 1, // [socketId]
  E_CONNECT: 2, // []
  E_DISCONNECT: 3, // [reason]
  E_STOPPED: 4, // []
  E_ERROR: 5, // [code, message]
  E_LINK: 6, // ['1' | '0']: client connection to the broker up or closed (the session lives on)
  // client events
  E_PARTIAL: 10, // [rid, status, data]
  E_FINAL: 11, // [rid, status, data]
  // worker events
  E_REQUEST: 20, // [clientId, service, rid, data, opts]
  E_REQ_HEARTBEAT: 21, // [rid]
  E_REQ_EXPIRED: 22, // [rid]: forgotten after its timeout
  // broker events
  E_PERSIST_SET: 30, // [rid, clientId, service, data, opts]
  E_PERSIST_DEL: 31, // [rid]
  // client commands (JS -> Rust)
  C_REQUEST: 1, // [service, rid, data, opts, timeoutMs]
  C_REQ_HEARTBEAT: 2, // [rid]
  C_WORKER_HEARTBEAT: 3, // [workerId]
  C_HEARTBEAT: 4, // []
  C_CANCEL: 5, // [rid]: forget a request (it moved to another broker)
  // worker commands
  W_REPLY: 10, // [type '3'|'6'|'7', clientId, rid, status '0'|'-1', data, opts]
  W_HEARTBEAT: 11, // [extra JSON]
  W_CONCURRENCY: 12, // [n]
  // broker commands
  B_RESTORE: 20 // [rid, clientId, service, data, opts]
})

'use strict'
// Prometheus metrics of a running broker, for `zmqbus broker --metrics host:port`. The encoding
// is prom-client's (a well-kept package; the values come from broker.stats(), read at scrape
// time, so nothing runs per message); the HTTP side is Node's own `http`, which the CLI already
// has, instead of a second server in Rust.
const http = require('node:http')
const client = require('prom-client')

// stats() field -> [metric name, help, type]. Counters only grow; gauges are levels.
const FIELDS = [
  ['requests', 'zmqbus_broker_requests_total', 'Client requests received', 'counter'],
  ['replies', 'zmqbus_broker_replies_total', 'Final replies routed to clients (cache hits included)', 'counter'],
  ['partials', 'zmqbus_broker_partials_total', 'Partial replies routed to clients', 'counter'],
  ['rejects', 'zmqbus_broker_rejects_total', 'Rejects received from workers', 'counter'],
  ['cacheHits', 'zmqbus_broker_cache_hits_total', 'Requests answered from the reply cache', 'counter'],
  ['requeued', 'zmqbus_broker_requeued_total', 'Requests re-queued after their worker was lost (retry)', 'counter'],
  ['abandoned', 'zmqbus_broker_abandoned_total', 'Requests let go after their timeout while a worker held them', 'counter'],
  ['inFlight', 'zmqbus_broker_in_flight', 'Requests held by workers', 'gauge'],
  ['workers', 'zmqbus_broker_workers', 'Workers registered', 'gauge'],
  ['queued', 'zmqbus_broker_queued', 'Requests waiting in service queues', 'gauge'],
  ['heldBytes', 'zmqbus_broker_held_bytes', 'Bytes of the requests held, queued and at workers (bounded by maxBytes)', 'gauge'],
  ['parked', 'zmqbus_broker_parked', 'Replies parked for reconnecting peers', 'gauge']
]
// Drop counters, one metric with a reason label.
const DROPS = {
  droppedExpired: 'expired',
  droppedWorkerLost: 'worker_lost',
  droppedQueueFull: 'queue_full',
  droppedDuplicate: 'duplicate_rid',
  droppedMalformed: 'malformed',
  droppedProtocol: 'protocol',
  droppedLate: 'late_reply',
  sendFailures: 'send_failed',
  parkedExpired: 'parked_expired',
  parkedOverflow: 'parked_overflow'
}

/** A registry whose metrics read `broker.stats()` when scraped. */
function brokerRegistry (broker) {
  const register = new client.Registry()
  let last = {}
  const read = () => { last = broker.stats() || last }
  for (const [field, name, help, type] of FIELDS) {
    const Metric = type === 'counter' ? client.Counter : client.Gauge
    // prom-client counters only increment: set the absolute value by reset + inc.
    const collect = type === 'counter'
      ? function () { read(); this.reset(); this.inc(Number(last[field]) || 0) }
      : function () { read(); this.set(Number(last[field]) || 0) }
    register.registerMetric(new Metric({ name, help, collect, registers: [] }))
  }
  register.registerMetric(new client.Counter({
    name: 'zmqbus_broker_dropped_total',
    help: 'Messages and requests dropped, by reason',
    labelNames: ['reason'],
    registers: [],
    collect () {
      read()
      this.reset()
      for (const [field, reason] of Object.entries(DROPS)) this.inc({ reason }, Number(last[field]) || 0)
    }
  }))
  return register
}

/** Serves `register` at http://host:port/metrics; resolves with the listening server. */
function serveMetrics (register, host, port) {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n')
      return
    }
    try {
      const body = await register.metrics()
      res.writeHead(200, { 'content-type': register.contentType }).end(body)
    } catch (err) {
      res.writeHead(500).end(String(err && err.message))
    }
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

module.exports = { brokerRegistry, serveMetrics }

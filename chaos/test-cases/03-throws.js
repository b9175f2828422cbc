'use strict'
// A fixture case for the runner's own test: the body throws after starting a child.
const { runCase, role, log } = require('../lib')
runCase(3, 'throws', async () => {
  const w = role('client', ['--addr', 'tcp://127.0.0.1:1', '--inflight', 0])
  log(`child-pid=${w.pid}`)
  throw new Error('boom')
})

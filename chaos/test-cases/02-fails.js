'use strict'
// A fixture case for the runner's own test: a check that does not hold.
const { runCase, checks } = require('../lib')
runCase(2, 'fails', async () => {
  const c = checks()
  c.check(1 + 1 === 3, 'arithmetic')
  return { held: c.held(), figures: {}, note: c.why() }
})

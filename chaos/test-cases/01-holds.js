'use strict'
// A fixture case for the runner's own test: holds, with figures.
const { runCase } = require('../lib')
runCase(1, 'holds', async () => ({ held: true, figures: { n: 3, codes: { C_X: 1 } }, note: 'fine' }))

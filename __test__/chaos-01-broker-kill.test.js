'use strict'
// Fault suite case 01 (chaos/cases/01-broker-kill.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('01', { todo: 'the client does not re-send its retry requests when its broker dies (issue 14: re-send on peer disconnect)' })

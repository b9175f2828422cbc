'use strict'
// Fault suite case 01 (chaos/cases/01-broker-kill.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('01')

'use strict'
// Fault suite case 02 (chaos/cases/02-multibroker-kill.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('02')

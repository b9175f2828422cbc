'use strict'
// Fault suite case 06 (chaos/cases/06-slow-consumer.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('06')

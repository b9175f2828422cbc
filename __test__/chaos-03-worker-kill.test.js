'use strict'
// Fault suite case 03 (chaos/cases/03-worker-kill.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('03')

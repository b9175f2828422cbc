'use strict'
// Fault suite case 08 (chaos/cases/08-soak.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('08')

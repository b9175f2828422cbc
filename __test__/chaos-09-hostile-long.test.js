'use strict'
// Fault suite case 09 (chaos/cases/09-hostile-long.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('09')

'use strict'
// Fault suite case 07 (chaos/cases/07-many-clients.js), short version: see chaos/test-support.js.
require('../chaos/test-support').shortCase('07')

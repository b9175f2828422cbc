'use strict'
// A fixture case for the runner's own test: never ends (the runner's --case-limit stops it).
setInterval(() => {}, 1000)

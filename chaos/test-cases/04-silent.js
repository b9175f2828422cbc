'use strict'
// A fixture case for the runner's own test: exits without a CHAOS line.
process.stdout.write('no verdict\n')
process.exit(3)

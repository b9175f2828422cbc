'use strict'
// Record kinds of the MDP engine handles, declared once in Rust (src/mdp/eventloop/kinds.rs, where each
// kind's frames are documented) and read from the addon at load.
module.exports = Object.freeze(require('./native').recordKinds().mdp)

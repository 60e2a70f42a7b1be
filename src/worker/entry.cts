/**
 * `require('multiproc/worker')`: the same module as worker/entry.ts (see
 * there), for a bundler whose output is CommonJS. Node's require() of an ES
 * module hands out that very module.
 */
import entry = require('./entry.js')
export = entry

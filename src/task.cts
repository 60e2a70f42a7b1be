/**
 * `require('multiproc/task')`: the same module as task.ts (Node's require()
 * of an ES module hands out that very module).
 */
import task = require('./task.js')
export = task

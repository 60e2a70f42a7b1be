/**
 * The CommonJS entry point: `require('multiproc')`.
 *
 * It hands out the very same module as `import 'multiproc'` (Node's
 * require() of an ES module), not a second copy: shared primitives, the
 * worker protocol and `instanceof` checks then agree whichever way a program
 * loads multiproc. Node has require() of ES modules without a flag from
 * 20.19 and 22.12 on; older versions get an error saying so.
 */
if (!(process.features as { require_module?: boolean }).require_module) {
  throw new Error(
    `require('multiproc') needs Node >= 20.19 or >= 22.12 (require() of ES modules); this is Node ${process.versions.node}. ` +
      "Upgrade Node, or load it with import() / import { ... } from 'multiproc'.",
  )
}

import multiproc = require('./index.js')
export = multiproc

// Runs one measurement in this fresh process and prints it as one JSON line.
//   node .bench-out/bench/child.js <case> <library> <full|quick|smoke>
import { measure, type Size } from './measure.js'

const [caseId, lib, size] = process.argv.slice(2)
const result = await measure(caseId!, lib!, (size ?? 'full') as Size)
process.stdout.write(`${JSON.stringify(result)}\n`)
// Some pools leave handles behind after close; the measurement is done.
process.exit(0)

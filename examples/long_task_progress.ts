// One long task that says how far it got, and a progress bar in the caller:
// the task calls progress() (multiproc/task) after every frame, the caller
// hears it through submitWith({ onProgress }) and moves a ProgressBar. The
// bar is drawn on stderr; the result and a count of the reports heard go
// to stdout.
//
//   node --import tsx examples/long_task_progress.ts [frames=60] [msPerFrame=25]
import { ProgressBar, ThreadPoolExecutor } from '../src/index.js'
import { renderFrames } from './progress_tasks.js'

const frames = Number(process.argv[2] ?? 60)
const msPerFrame = Number(process.argv[3] ?? 25)

await using executor = new ThreadPoolExecutor({ maxWorkers: 1 })
// enabled: drawn even when stderr is not a terminal (a log file, a test).
const bar = new ProgressBar({ total: frames, unit: 'frames', enabled: true })
let reports = 0
const checksum = await executor.submitWith(
  {
    onProgress: (report) => {
      reports++
      bar.set((report as { done: number }).done)
    },
  },
  renderFrames,
  frames,
  msPerFrame,
)
bar.stop()
console.log(`rendered ${frames} frames, checksum ${checksum}`)
console.log(`heard ${reports} progress reports for ${frames} frames (at most one per 50 ms, and the last)`)

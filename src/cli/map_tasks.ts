/**
 * The tasks `multiproc map` runs in its workers (line_block_task.ts), by
 * reference: their module's URL and their names. The main thread sends them
 * without the inspector lookup that finds where a function was defined (a
 * few milliseconds of its start), and the workers do not load the
 * reference machinery with them.
 */
import { task } from '../task_ref.js'
import type { runLineBlock, warmLineBlock } from './line_block_task.js'

// The sibling module as this one is: .ts when run from the sources, .js when built.
const module = new URL(`./line_block_task${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

/** The module of the tasks, for a worker to import ahead of them. */
export const LINE_BLOCK_MODULE = module.href

export const LINE_BLOCK_TASKS = {
  run: task<typeof runLineBlock>(module, 'runLineBlock'),
  warm: task<typeof warmLineBlock>(module, 'warmLineBlock'),
}

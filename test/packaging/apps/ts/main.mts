// TypeScript, module nodenext, strict: the types of 'multiproc' check, and a
// task reference is typed by its module.
import { ThreadPoolExecutor, tasks, type Future } from 'multiproc'
import type * as Tasks from './tasks.mjs'

const { square } = tasks<typeof Tasks>(new URL('./tasks.mjs', import.meta.url))
const executor = new ThreadPoolExecutor({ maxWorkers: 1 })
const future: Future<number> = executor.submit(square, 9)
const value: number = await future.result()
// @ts-expect-error square takes a number
executor.submit(square, 'nine')
await executor.shutdown({ cancelFutures: true })
console.log(`ts ${value}`)

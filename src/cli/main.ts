#!/usr/bin/env node
/**
 * The `multiproc` command. Each subcommand lives in its own module, loaded
 * only when asked for, behind one table: a new subcommand is one entry.
 * Argument parsing only; the work is done by the library.
 */
import { readFileSync } from 'node:fs'
import { EXIT, UsageError } from './args.js'

interface Command {
  summary: string
  run(argv: string[]): Promise<number>
}

const COMMANDS: Record<string, Command> = {
  map: { summary: 'run a task on every line of a file or stdin, in input order', run: async (argv) => (await import('./map.js')).runMapCommand(argv) },
  bench: { summary: 'time a CPU-bound task on 1..cpuCount() workers: speedup, efficiency, serial fraction', run: async (argv) => (await import('./bench.js')).runBenchCommand(argv) },
  worker: { summary: 'run tasks for a NATS JetStream cluster (multiproc worker --nats <url> --allow <module>...)', run: async (argv) => (await import('./worker.js')).runWorkerCommand(argv) },
  status: { summary: 'workers of a NATS cluster, its queue and rates (multiproc status --nats <url> [--watch] [--json])', run: async (argv) => (await import('./status.js')).runStatusCommand(argv) },
  info: { summary: 'CPUs and the limit that decided them, backends, NATS reachability', run: async (argv) => (await import('./info.js')).runInfoCommand(argv, version()) },
}

function version(): string {
  // Two levels below the package root, from src/cli and from dist/cli alike.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`)
  return `Usage: multiproc <command> [options]

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}this help, or a command's: multiproc help map

Options: -h, --help; -v, --version. Run \`multiproc <command> --help\` for a command's options.
Exit codes: 0 done, 1 failure, 2 bad arguments, 3 done with failed items skipped, 130 Ctrl-C.`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(`${usage()}\n`)
    return name === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${version()}\n`)
    return EXIT.OK
  }
  if (name === 'help') {
    if (rest[0] === undefined) {
      process.stdout.write(`${usage()}\n`)
      return EXIT.OK
    }
    return main([rest[0], '--help'])
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  try {
    if (command === undefined) throw new UsageError(`multiproc: unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(', ')})`)
    return await command.run(rest)
  } catch (error) {
    if (error instanceof UsageError) {
      const where = error.message.startsWith('multiproc') ? '' : `multiproc${command === undefined ? '' : ` ${name}`}: `
      process.stderr.write(`${where}${error.message}\nRun \`multiproc ${command === undefined ? '' : `${name} `}--help\` for usage.\n`)
      return EXIT.USAGE
    }
    process.stderr.write(`multiproc ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return EXIT.FAILURE
  }
}

/** Waits until what was written to stdout is handed to the system, so that exit loses nothing. */
async function flushStdout(): Promise<void> {
  if (process.stdout.writableLength === 0) return
  await new Promise<void>((resolve) => {
    process.stdout.once('drain', resolve)
    process.stdout.once('error', resolve)
  })
}

const code = await main(process.argv.slice(2))
await flushStdout()
// The input (stdin) may still be open: exit rather than wait for it.
process.exit(code)

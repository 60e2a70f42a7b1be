// The README's quick start runs as written, the way a new user runs it: the
// blocks marked `<!-- quick-start: <variant>/<file> -->` are written into a
// fresh `npm init -y` project (CommonJS by default) where `multiproc`
// resolves to this checkout, compiled to JavaScript as the package ships it;
// the TypeScript variant runs under tsx, the JavaScript one under plain node.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from '../helpers.js'

/** What both programs print, one value per line. */
const EXPECTED = ['49', 'Future<finished: 49>', '1', '4', '9', '14']

/** The marked code blocks of the README, by variant and file name. */
function quickStartBlocks(readme: string): Map<string, Map<string, string>> {
  const variants = new Map<string, Map<string, string>>()
  const marked = /<!-- quick-start: (\w+)\/([\w.-]+) -->\s*\n```\w*\n([\s\S]*?)\n```/g
  for (const [, variant, file, code] of readme.matchAll(marked)) {
    if (!variants.has(variant!)) variants.set(variant!, new Map())
    variants.get(variant!)!.set(file!, `${code}\n`)
  }
  return variants
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end, killed after `timeoutMs`. */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

const blocks = quickStartBlocks(readFileSync(join(root, 'README.md'), 'utf8'))
let dir: string
let pkg: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mp-quick-start-'))
  // The package as installed: package.json and the compiled dist/ (no source maps or
  // declarations needed to run it), reached through node_modules/multiproc.
  pkg = join(dir, 'multiproc')
  mkdirSync(pkg)
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'))
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const build = await run(
    process.execPath,
    [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
    root,
    300_000,
  )
  assert.equal(build.code, 0, `tsc failed:\n${build.stdout}${build.stderr}`)
})

after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

/** A fresh `npm init -y` project holding `files`, with multiproc installed. */
async function freshProject(name: string, files: Map<string, string>): Promise<string> {
  const app = join(dir, name)
  mkdirSync(app)
  const init = await run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['init', '-y'], app, 60_000)
  assert.equal(init.code, 0, init.stderr)
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { type?: string }
  assert.notEqual(manifest.type, 'module', 'a fresh project is CommonJS')
  mkdirSync(join(app, 'node_modules'))
  symlinkSync(pkg, join(app, 'node_modules', 'multiproc'), 'dir')
  for (const [file, code] of files) writeFileSync(join(app, file), code)
  return app
}

describe("the README's quick start", () => {
  it('has a TypeScript and a JavaScript variant, each a main and a task module', () => {
    assert.deepEqual([...blocks.keys()].sort(), ['js', 'ts'])
    assert.deepEqual([...blocks.get('ts')!.keys()].sort(), ['main.mts', 'tasks.mts'])
    assert.deepEqual([...blocks.get('js')!.keys()].sort(), ['main.mjs', 'tasks.mjs'])
    assert.doesNotMatch(blocks.get('js')!.get('main.mjs')!, /\busing\b/, 'Node 20 has no `using`')
  })

  it('TypeScript: `npx tsx main.mts` in a fresh CommonJS project', async () => {
    const app = await freshProject('ts-app', blocks.get('ts')!)
    const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs')
    const r = await run(process.execPath, [tsx, 'main.mts'], app, 120_000)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), EXPECTED)
    assert.equal(r.stderr, '')
  })

  it('JavaScript: `node main.mjs` in a fresh CommonJS project', async () => {
    const app = await freshProject('js-app', blocks.get('js')!)
    const r = await run(process.execPath, ['main.mjs'], app, 120_000)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), EXPECTED)
    assert.equal(r.stderr, '')
  })
})

#!/usr/bin/env node
// The packaging test: multiproc as a user installs it. Packs the tarball,
// installs it with --ignore-scripts into fresh apps (ESM, CommonJS,
// TypeScript nodenext strict, an esbuild bundle run with no node_modules,
// `node -e`) with no compiler on PATH, runs each and compares its output,
// then runs arethetypeswrong and publint on the tarball. Any failed check
// makes it exit 1.
//
//   node scripts/packaging_test.mjs                       the running Node
//   node scripts/packaging_test.mjs --node /path/to/node  the apps (and npm) on another Node
//   node scripts/packaging_test.mjs --tarball x.tgz       an already packed tarball
//   node scripts/packaging_test.mjs --save-tarball x.tgz  keep the packed tarball (for the runs on other Nodes)
//
// Offline-friendly: the tarball has no dependencies, so installing it needs
// nothing from the registry; TypeScript, esbuild, attw and publint come from
// this checkout's node_modules.
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const apps = join(root, 'test', 'packaging', 'apps')
const args = process.argv.slice(2)
const option = (name) => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}
const node = option('--node') ?? process.execPath
const keep = args.includes('--keep')
const work = mkdtempSync(join(tmpdir(), 'multiproc-packaging-'))
const started = Date.now()

// npm's own CLI, run by the Node under test (so its engine checks are that Node's).
const npmCli = [
  process.env.npm_execpath,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
].find((p) => p !== undefined && p.endsWith('.js') && existsSync(p))
if (npmCli === undefined) throw new Error('npm-cli.js not found next to this Node')

// A PATH with node alone: no cc, gcc, make or python, so nothing can compile.
const bin = join(work, 'bin')
mkdirSync(bin)
symlinkSync(node, join(bin, 'node'))
const toolless = { ...process.env, PATH: bin, MULTIPROC_NO_NATIVE: '', MULTIPROC_REQUIRE_NATIVE: '', npm_config_update_notifier: 'false' }
delete toolless.MULTIPROC_WORKER_ENTRY

const failures = []
let checks = 0
let last = Date.now()
function check(name, ok, detail = '') {
  checks++
  const took = `${((Date.now() - last) / 1000).toFixed(1)} s`
  last = Date.now()
  if (ok) console.log(`ok ${checks} - ${name} (${took})`)
  else {
    failures.push(name)
    console.log(`not ok ${checks} - ${name}${detail ? `\n  ${detail.trim().split('\n').join('\n  ')}` : ''}`)
  }
}

function run(command, argv, options = {}) {
  const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 120_000, ...options })
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` }
}

const nodeVersion = run(node, ['--version']).stdout.trim()
console.log(`# packaging test on Node ${nodeVersion} in ${work}`)

// ---------------------------------------------------------------------------
// The tarball
let tarball = option('--tarball')
if (tarball === undefined) {
  const build = run('npm', ['run', 'build'], { cwd: root })
  check('npm run build', build.status === 0, build.output)
  const prebuilds = run(process.execPath, [join(root, 'scripts', 'build_prebuilds.mjs'), '--check'], { cwd: root })
  check('prebuilt addons match native/shm.c', prebuilds.status === 0, prebuilds.output)
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root })
  check('npm pack', pack.status === 0, pack.output)
  const info = JSON.parse(pack.stdout)[0]
  tarball = join(work, info.filename)
  if (option('--save-tarball') !== undefined) copyFileSync(tarball, option('--save-tarball'))
  console.log(`# tarball ${info.filename}: packed ${info.size} bytes, unpacked ${info.unpackedSize} bytes, ${info.entryCount} files`)
}
const extracted = join(work, 'extracted')
mkdirSync(extracted)
run('tar', ['xzf', tarball, '-C', extracted])
const pkgDir = join(extracted, 'package')
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
const files = run('tar', ['tzf', tarball]).stdout.split('\n').filter(Boolean)

check('no runtime dependencies', Object.keys(pkg.dependencies ?? {}).length === 0, JSON.stringify(pkg.dependencies))
check('NATS clients are optional peer dependencies', ['@nats-io/jetstream', '@nats-io/transport-node'].every((n) => pkg.peerDependencies?.[n] && pkg.peerDependenciesMeta?.[n]?.optional === true))
const lifecycle = ['preinstall', 'install', 'postinstall'].filter((s) => pkg.scripts?.[s] !== undefined)
check('no install scripts (none declared, and no implicit node-gyp for binding.gyp)', lifecycle.length === 0 && (pkg.gypfile === false || !files.includes('package/binding.gyp')), lifecycle.join(', '))
const maps = files.filter((f) => f.endsWith('.map'))
const mapComments = files.filter((f) => /\.[cm]?js$/.test(f) && /\/\/# sourceMappingURL=/.test(readFileSync(join(extracted, f), 'utf8')))
check('no source maps pointing at files the tarball lacks', maps.length === 0 && mapComments.length === 0, [...maps, ...mapComments].join('\n'))
const manifestFile = join(pkgDir, 'prebuilds', 'manifest.json')
const manifest = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) : { prebuilds: [] }
for (const target of ['linux-x64-glibc', 'linux-arm64-glibc', 'linux-x64-musl']) {
  const entry = manifest.prebuilds.find((e) => e.target === target)
  check(`prebuilt addon ${target} ships`, entry !== undefined && files.includes(`package/${entry.file}`))
}

// ---------------------------------------------------------------------------
// Fresh apps, installed from the tarball with --ignore-scripts and no compiler
// ignoreScripts false: a plain `npm install`, which must not run anything of
// ours either (npm would run `node-gyp rebuild` for a binding.gyp unless
// package.json says "gypfile": false).
function install(name, { ignoreScripts = true } = {}) {
  const dir = join(work, name)
  cpSync(join(apps, name), dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, version: '1.0.0', private: true }, null, 2))
  const flags = ignoreScripts ? ['--ignore-scripts'] : ['--foreground-scripts']
  const result = run(node, [npmCli, 'install', tarball, ...flags, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: toolless })
  check(`${name}: npm install ${flags[0]}`, result.status === 0, result.output)
  if (!ignoreScripts) {
    const ranSomething = /node-gyp|> multiproc@|gyp info/.test(result.output) || existsSync(join(dir, 'node_modules', 'multiproc', 'build'))
    check(`${name}: installing runs no script of ours`, !ranSomething, result.output)
  }
  const warnings = result.output.split('\n').filter((l) => /^npm (warn|WARN)|EBADENGINE/.test(l))
  check(`${name}: the install prints no warning`, warnings.length === 0, warnings.join('\n'))
  const installed = existsSync(join(dir, 'node_modules')) ? readdirSync(join(dir, 'node_modules')).filter((n) => !n.startsWith('.')) : []
  check(`${name}: multiproc installs alone (no runtime dependencies)`, installed.length === 1 && installed[0] === 'multiproc', installed.join(', '))
  return dir
}

function expectOutput(name, result, expected) {
  const out = result.stdout.trim()
  check(name, result.status === 0 && out === expected, `exit ${result.status}, expected ${JSON.stringify(expected)}\n${result.output}`)
}

// ESM: pools on both backends, and a child process writes a SharedMemory block (prebuilt addon).
const esm = install('esm')
expectOutput('esm: import, process and thread pools, shared memory across processes', run(node, ['main.mjs'], { cwd: esm, env: toolless }), 'esm 1,4,9 49 shm=posix/prebuilt written-by-child=true')
// A worker thread starts from one CommonJS file that copies some modules; a task importing multiproc has the package's own.
check('esm: the thread worker starts from its one-file bundle', files.includes('package/dist/worker/thread_worker.cjs'))
expectOutput(
  "esm: the worker's start bundle and a task's own multiproc agree (results flushed before a task blocks; a relayed RemoteError)",
  run(node, ['copies.mjs'], { cwd: esm, env: toolless, timeout: 30_000 }),
  'copies woken QuotaError',
)
const info = run(node, [join(esm, 'node_modules', '.bin', 'multiproc'), 'info'], { cwd: esm, env: toolless })
check('esm: multiproc info names the prebuilt addon', info.status === 0 && /shared memory\s+POSIX addon, prebuilt/.test(info.stdout), info.output)

expectOutput(
  'esm: without the optional NATS clients, the cluster backend says what to install',
  run(node, ['no_nats.mjs'], { cwd: esm, env: toolless }),
  'ERR_MP_CLUSTER The cluster backend needs the NATS clients: npm install @nats-io/transport-node @nats-io/jetstream',
)

// `node -e`, CommonJS and ESM input.
expectOutput(
  'node -e: require and a thread pool',
  run(node, ['-e', "const m = require('multiproc'); const ex = new m.ThreadPoolExecutor({ maxWorkers: 1 }); ex.submit(m.task(require('node:url').pathToFileURL('tasks.mjs'), 'square'), 4).result().then((v) => { console.log('eval ' + v); return ex.shutdown() })"], { cwd: esm, env: toolless }),
  'eval 16',
)
expectOutput(
  'node -e: import() and a thread pool',
  run(node, ['-e', "import('multiproc').then(async (m) => { const ex = new m.ThreadPoolExecutor({ maxWorkers: 1 }); console.log('eval ' + (await ex.submit(m.task(require('node:url').pathToFileURL('tasks.mjs'), 'square'), 5).result())); await ex.shutdown() })"], { cwd: esm, env: toolless }),
  'eval 25',
)

// Without any addon (prebuilds removed, nothing compiled): threads still share memory; a child process gets an error that says why and how to get the addon.
rmSync(join(esm, 'node_modules', 'multiproc', 'prebuilds'), { recursive: true, force: true })
const missing = run(node, ['missing_addon.mjs'], { cwd: esm, env: toolless })
check(
  'without the addon: a child process gets an error naming the cause and the fix',
  /^fallback ERR_MP_UNSUPPORTED_BACKEND .*no prebuilt addon for linux-x64 .*build_native\.mjs/.test(missing.stdout.trim()),
  missing.output,
)

// Compiling from source is the fallback: where a compiler exists, the shipped script builds the addon into the package.
if (run('sh', ['-c', 'command -v cc && command -v make && command -v python3']).status === 0) {
  const compile = run(node, [join(esm, 'node_modules', 'multiproc', 'scripts', 'build_native.mjs')], { cwd: esm, env: { ...process.env, MULTIPROC_REQUIRE_NATIVE: '1' } })
  const after = run(node, ['-e', "import('multiproc').then((m) => console.log(m.SharedMemory.addon.source))"], { cwd: esm, env: toolless })
  check('compiled from source: build_native.mjs builds the addon and it loads', compile.status === 0 && after.stdout.trim() === 'compiled', compile.output + after.output)
} else console.log('# skipped: compiling from source (no cc, make and python3 on PATH)')

// CommonJS
const cjs = install('cjs', { ignoreScripts: false })
expectOutput('cjs: require, process and thread pools', run(node, ['main.cjs'], { cwd: cjs, env: toolless }), 'cjs 25 36 shm=prebuilt')

// TypeScript, module nodenext, strict (this checkout's compiler and @types/node).
const ts = install('ts')
const tsconfig = JSON.parse(readFileSync(join(ts, 'tsconfig.json'), 'utf8'))
tsconfig.compilerOptions.typeRoots = [join(root, 'node_modules', '@types')]
writeFileSync(join(ts, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
const tsc = run(node, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ts], { cwd: ts, env: toolless })
check('ts: tsc --module nodenext --strict (skipLibCheck off, no NATS clients installed) accepts the ESM and CommonJS types', tsc.status === 0, tsc.output)
expectOutput('ts: the compiled program runs', run(node, ['out/main.mjs'], { cwd: ts, env: toolless }), 'ts 81')

// esbuild bundle: main and task module as two entries plus multiproc/worker, code splitting, run with no node_modules.
const bundle = install('bundle')
const esbuild = join(root, 'node_modules', 'esbuild', 'bin', 'esbuild')
const bundleArgs = ['--bundle', '--splitting', '--platform=node', '--format=esm', '--out-extension:.js=.mjs']
const built = run(esbuild, ['main.mjs', 'tasks.mjs', 'multiproc-worker=multiproc/worker', ...bundleArgs, '--outdir=out', '--log-level=warning'], { cwd: bundle, env: toolless })
check('bundle: esbuild --bundle --splitting', built.status === 0, built.output)
const deploy = join(work, 'deploy')
if (built.status === 0) cpSync(join(bundle, 'out'), deploy, { recursive: true })
for (const backend of ['thread', 'process']) {
  const ran = built.status === 0 ? run(node, ['main.mjs'], { cwd: deploy, env: { ...toolless, MULTIPROC_TEST_BACKEND: backend } }) : { status: null, stdout: '', output: 'no bundle' }
  expectOutput(`bundle: runs with no node_modules on the ${backend} backend`, ran, `bundle ${backend} 1,4,9,16 worker`)
}
const noWorker = run(esbuild, ['main.mjs', 'tasks.mjs', ...bundleArgs, '--outdir=out-no-worker', '--log-level=warning'], { cwd: bundle, env: toolless })
const noWorkerDeploy = join(work, 'deploy-no-worker')
if (noWorker.status === 0) cpSync(join(bundle, 'out-no-worker'), noWorkerDeploy, { recursive: true })
const noWorkerRun = noWorker.status === 0 ? run(node, ['main.mjs'], { cwd: noWorkerDeploy, env: { ...toolless, MULTIPROC_TEST_BACKEND: 'thread' } }) : { status: null, output: noWorker.output }
check(
  'bundle without multiproc/worker: the error says how to include it',
  noWorker.status === 0 && noWorkerRun.status !== 0 && /multiproc-worker=multiproc\/worker/.test(noWorkerRun.output),
  noWorkerRun.output,
)

// ---------------------------------------------------------------------------
// Type and package linters on the tarball
const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js')
const attwMain = run(node, [attw, tarball, '--entrypoints', '.', '--format', 'ascii'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })
check('arethetypeswrong: "multiproc" clean in every resolution mode', attwMain.status === 0, attwMain.output)
// multiproc/worker is a bundler entry: TypeScript's node10 resolution predates subpath exports.
const attwAll = run(node, [attw, tarball, '--profile', 'node16', '--format', 'ascii'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })
check('arethetypeswrong: every entry point clean for node16 and bundlers', attwAll.status === 0, attwAll.output)
const publint = run(node, [join(root, 'node_modules', 'publint', 'src', 'cli.js'), 'run', tarball, '--strict'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })
check('publint --strict', publint.status === 0, publint.output)

console.log(`# ${checks - failures.length}/${checks} checks passed on Node ${nodeVersion} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
if (!keep) rmSync(work, { recursive: true, force: true })
if (failures.length > 0) {
  console.log(`# failed: ${failures.join('; ')}`)
  process.exit(1)
}

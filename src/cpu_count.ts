/**
 * cpuCount(): the number of CPUs this process can really use.
 *
 * Python's `os.cpu_count()` reports the host's CPUs, so a pod limited to
 * 2 CPUs on a 64-CPU node starts 64 workers that fight over 2 CPUs. We take
 * the minimum of:
 *   - the scheduler affinity (`os.availableParallelism()`, which also
 *     reflects a cgroup cpuset),
 *   - the cgroup v2 quota (`cpu.max`, on this cgroup and every ancestor),
 *   - the cgroup v1 CFS quota (`cpu.cfs_quota_us / cpu.cfs_period_us`),
 * each quota rounded up, and never less than 1. `MULTIPROC_CPU_COUNT`
 * overrides everything (like Python 3.13's `PYTHON_CPU_COUNT`).
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, posix } from 'node:path'

/** Which limit decided the value of `cpuCount()`. */
export type CpuLimitSource = 'affinity' | 'cgroup-v2' | 'cgroup-v1' | 'env'

/** A CPU quota read from a cgroup. */
export interface CgroupQuota {
  /** The cgroup version the quota was read from. */
  version: 1 | 2
  /** Quota and period in microseconds, as the kernel reports them. */
  quotaUs: number
  /** The period the quota applies to, in microseconds. */
  periodUs: number
  /** quota / period, not rounded: 1.5 means one and a half CPUs. */
  cpus: number
  /** The file the quota was read from. */
  file: string
}

/** Everything `cpuCount()` looked at, for `multiproc info` and for debugging. */
export interface CpuInfo {
  /** The value `cpuCount()` returns. */
  count: number
  /** Which limit decided `count`. */
  decidedBy: CpuLimitSource
  /** CPUs in this process's affinity mask (`os.availableParallelism()`). */
  affinity: number
  /** The tightest cgroup quota found, or null when there is none. */
  quota: CgroupQuota | null
  /** The value of `MULTIPROC_CPU_COUNT` when it is set and valid. */
  override: number | null
}

/** Where to read from; tests point `root` at a fake file system. */
export interface CpuInfoSources {
  root?: string
  affinity?: number
  env?: NodeJS.ProcessEnv
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** Parses one line of cgroup v2 `cpu.max`: "max 100000" or "150000 100000". */
function parseCpuMax(text: string, file: string): CgroupQuota | null {
  const [quota, period] = text.trim().split(/\s+/)
  if (quota === undefined || quota === 'max') return null
  const quotaUs = Number(quota)
  const periodUs = Number(period ?? 100000)
  if (!(quotaUs > 0) || !(periodUs > 0)) return null
  return { version: 2, quotaUs, periodUs, cpus: quotaUs / periodUs, file }
}

function tighter(a: CgroupQuota | null, b: CgroupQuota | null): CgroupQuota | null {
  if (a === null) return b
  if (b === null) return a
  return b.cpus < a.cpus ? b : a
}

/** Ancestors of a cgroup path, itself first: /a/b → [/a/b, /a, /]. */
function ancestors(path: string): string[] {
  const out: string[] = []
  let current = posix.normalize(path.startsWith('/') ? path : `/${path}`)
  for (let i = 0; i < 64; i++) {
    out.push(current)
    if (current === '/') break
    current = posix.dirname(current)
  }
  return out
}

interface Mount {
  root: string
  mountPoint: string
  fsType: string
  superOptions: string[]
}

function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = []
  for (const line of text.split('\n')) {
    // 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const left = line.slice(0, sep).split(' ')
    const right = line.slice(sep + 3).split(' ')
    if (left.length < 5 || right.length < 3) continue
    mounts.push({ root: unescapeMountField(left[3]!), mountPoint: unescapeMountField(left[4]!), fsType: right[0]!, superOptions: right[2]!.split(',') })
  }
  return mounts
}

/** The cgroup path inside a mount whose root is `mountRoot` (a whole path component, never a string prefix). */
function stripMountRoot(cgroupPath: string, mountRoot: string): string {
  if (mountRoot === '/' || mountRoot === '') return cgroupPath
  if (cgroupPath === mountRoot) return '/'
  if (cgroupPath.startsWith(`${mountRoot}/`)) return cgroupPath.slice(mountRoot.length)
  return cgroupPath
}

/** mountinfo escapes spaces, tabs, newlines and backslashes as octal (\040). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

function cgroupV2Quota(root: string, cgroupPath: string, mounts: Mount[]): CgroupQuota | null {
  const mount = mounts.find((m) => m.fsType === 'cgroup2')
  const base = mount ? mount.mountPoint : '/sys/fs/cgroup'
  const mountRoot = mount ? mount.root : '/'
  // Inside a container the cgroup namespace makes /proc/self/cgroup say "/",
  // or a path that includes the mount's own root; strip that prefix.
  const relative = stripMountRoot(cgroupPath, mountRoot)
  let best: CgroupQuota | null = null
  for (const dir of ancestors(relative)) {
    const file = join(root, base, dir, 'cpu.max')
    const text = read(file)
    if (text !== null) best = tighter(best, parseCpuMax(text, file))
  }
  return best
}

function cgroupV1Quota(root: string, cgroupPath: string, mounts: Mount[]): CgroupQuota | null {
  const mount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes('cpu'))
  const candidates = mount ? [mount.mountPoint] : ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu']
  const mountRoot = mount ? mount.root : '/'
  const relative = stripMountRoot(cgroupPath, mountRoot)
  let best: CgroupQuota | null = null
  for (const base of candidates) {
    for (const dir of ancestors(relative)) {
      const quotaFile = join(root, base, dir, 'cpu.cfs_quota_us')
      const quotaText = read(quotaFile)
      const periodText = read(join(root, base, dir, 'cpu.cfs_period_us'))
      if (quotaText === null || periodText === null) continue
      const quotaUs = Number(quotaText.trim())
      const periodUs = Number(periodText.trim())
      if (quotaUs > 0 && periodUs > 0) {
        best = tighter(best, { version: 1, quotaUs, periodUs, cpus: quotaUs / periodUs, file: quotaFile })
      }
    }
    if (best !== null) break
  }
  return best
}

/**
 * Reads every CPU limit that applies to this process. Never throws.
 * @param sources where to read (for tests): a root directory, an environment, an affinity
 * @returns the count `cpuCount()` gives, the limit that decided it (`decidedBy`), and each limit found
 * @example
 * const { count, decidedBy, quota } = cpuInfo()
 * console.log(`${count} CPUs, decided by ${decidedBy}`, quota?.file)
 */
export function cpuInfo(sources: CpuInfoSources = {}): CpuInfo {
  const root = sources.root ?? '/'
  const env = sources.env ?? process.env
  const affinity = Math.max(1, sources.affinity ?? availableParallelism())

  let quota: CgroupQuota | null = null
  const cgroupText = read(join(root, 'proc/self/cgroup'))
  if (cgroupText !== null) {
    const mounts = parseMountInfo(read(join(root, 'proc/self/mountinfo')) ?? '')
    for (const line of cgroupText.split('\n')) {
      // "0::/user.slice" (v2) or "4:cpu,cpuacct:/docker/abc" (v1)
      const first = line.indexOf(':')
      const second = line.indexOf(':', first + 1)
      if (first < 0 || second < 0) continue
      const controllers = line.slice(first + 1, second)
      const path = line.slice(second + 1).trim() || '/'
      if (line.slice(0, first) === '0' && controllers === '') {
        quota = tighter(quota, cgroupV2Quota(root, path, mounts))
      } else if (controllers.split(',').includes('cpu')) {
        quota = tighter(quota, cgroupV1Quota(root, path, mounts))
      }
    }
  }

  let override: number | null = null
  const raw = env.MULTIPROC_CPU_COUNT
  if (raw !== undefined && raw !== '') {
    const n = Number(raw)
    if (Number.isInteger(n) && n >= 1) override = n
  }

  let count = affinity
  let decidedBy: CpuLimitSource = 'affinity'
  if (quota !== null) {
    const fromQuota = Math.max(1, Math.ceil(quota.cpus))
    if (fromQuota < count) {
      count = fromQuota
      decidedBy = quota.version === 2 ? 'cgroup-v2' : 'cgroup-v1'
    }
  }
  if (override !== null) {
    count = override
    decidedBy = 'env'
  }
  return { count, decidedBy, affinity, quota, override }
}

/**
 * The number of CPUs this process can really use: the minimum of its CPU
 * affinity and its cgroup (v1 or v2) CPU quota, rounded up, at least 1.
 * Set `MULTIPROC_CPU_COUNT` to override. See `cpuInfo()` for which limit decided.
 *
 * @returns a positive integer; never throws
 * @example
 * const pool = new Pool({ processes: cpuCount() })
 */
export function cpuCount(): number {
  return cpuInfo().count
}

// cpuInfo() against fake /proc and cgroup file trees in a temporary directory.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { cpuCount, cpuInfo } from '../../src/cpu_count.js'

let base: string
let counter = 0

before(() => {
  base = mkdtempSync(join(tmpdir(), 'multiproc-cpu-'))
})
after(() => {
  rmSync(base, { recursive: true, force: true })
})

/** Creates a fresh fake root with the given files (path relative to the root → content). */
function fakeRoot(files: Record<string, string>): string {
  const root = join(base, `root${counter++}`)
  mkdirSync(root)
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, content)
  }
  return root
}

const V2_MOUNT = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n'
const V1_MOUNTS =
  '25 20 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n' +
  '33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct\n' +
  '34 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory\n'

/** A cgroup v2 tree: the process is in `path`; `limits` maps cgroup dirs to cpu.max contents. */
function v2(path: string, limits: Record<string, string>, mountinfo = V2_MOUNT): string {
  const files: Record<string, string> = {
    'proc/self/cgroup': `0::${path}\n`,
    'proc/self/mountinfo': mountinfo,
  }
  for (const [dir, max] of Object.entries(limits)) files[join('sys/fs/cgroup', dir, 'cpu.max')] = max
  return fakeRoot(files)
}

const noEnv = {}

describe('cpuInfo: cgroup v2', () => {
  const cases: [string, number, string][] = [
    ['max 100000', 8, 'affinity'],
    ['200000 100000', 2, 'cgroup-v2'],
    ['150000 100000', 2, 'cgroup-v2'],
    ['50000 100000', 1, 'cgroup-v2'],
    ['1000 100000', 1, 'cgroup-v2'],
    ['100000 100000', 1, 'cgroup-v2'],
    ['400000 50000', 8, 'affinity'],
    ['350000 50000', 7, 'cgroup-v2'],
  ]
  for (const [max, count, decidedBy] of cases) {
    it(`cpu.max "${max}" on 8 CPUs → ${count} (${decidedBy})`, () => {
      const root = v2('/app.slice/app.service', { 'app.slice/app.service': `${max}\n` })
      const info = cpuInfo({ root, affinity: 8, env: noEnv })
      assert.equal(info.count, count)
      assert.equal(info.decidedBy, decidedBy)
      assert.equal(info.affinity, 8)
      assert.equal(info.override, null)
    })
  }

  it('reports the quota it found, unrounded, with its file', () => {
    const root = v2('/pod', { pod: '150000 100000\n' })
    const info = cpuInfo({ root, affinity: 64, env: noEnv })
    assert.deepEqual(info.quota, {
      version: 2,
      quotaUs: 150000,
      periodUs: 100000,
      cpus: 1.5,
      file: join(root, 'sys/fs/cgroup/pod/cpu.max'),
    })
    assert.equal(info.count, 2)
  })

  it('"max" means no quota', () => {
    const root = v2('/pod', { pod: 'max 100000\n' })
    assert.equal(cpuInfo({ root, affinity: 4, env: noEnv }).quota, null)
  })

  it('a quota without a period uses the kernel default of 100000', () => {
    const root = v2('/pod', { pod: '300000\n' })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.quota?.periodUs, 100000)
    assert.equal(info.count, 3)
  })

  it('a quota above the affinity leaves the affinity in charge', () => {
    const root = v2('/pod', { pod: '800000 100000\n' })
    const info = cpuInfo({ root, affinity: 2, env: noEnv })
    assert.equal(info.count, 2)
    assert.equal(info.decidedBy, 'affinity')
    assert.equal(info.quota?.cpus, 8, 'the quota is still reported')
  })

  it('a quota equal to the affinity is decided by the affinity', () => {
    const root = v2('/pod', { pod: '400000 100000\n' })
    const info = cpuInfo({ root, affinity: 4, env: noEnv })
    assert.equal(info.count, 4)
    assert.equal(info.decidedBy, 'affinity')
  })

  it('a tighter ancestor wins over the own cgroup', () => {
    const root = v2('/kubepods/burstable/pod1/ctr', {
      'kubepods/burstable/pod1/ctr': 'max 100000\n',
      'kubepods/burstable/pod1': '200000 100000\n',
      'kubepods/burstable': '600000 100000\n',
      kubepods: 'max 100000\n',
    })
    const info = cpuInfo({ root, affinity: 32, env: noEnv })
    assert.equal(info.count, 2)
    assert.equal(info.decidedBy, 'cgroup-v2')
    assert.equal(info.quota?.file, join(root, 'sys/fs/cgroup/kubepods/burstable/pod1/cpu.max'))
  })

  it('the own cgroup wins over a looser ancestor', () => {
    const root = v2('/a/b', { 'a/b': '100000 100000\n', a: '300000 100000\n' })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 1)
    assert.equal(info.quota?.file, join(root, 'sys/fs/cgroup/a/b/cpu.max'))
  })

  it('compares ancestors by CPUs, not by raw quota (different periods)', () => {
    // 250000/50000 = 5 CPUs vs 300000/100000 = 3 CPUs
    const root = v2('/a/b', { 'a/b': '250000 50000\n', a: '300000 100000\n' })
    const info = cpuInfo({ root, affinity: 16, env: noEnv })
    assert.equal(info.count, 3)
    assert.equal(info.quota?.periodUs, 100000)
  })

  it('the root cgroup "/" (a container with a cgroup namespace)', () => {
    const root = v2('/', { '': '200000 100000\n' })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 2)
    assert.equal(info.quota?.file, join(root, 'sys/fs/cgroup/cpu.max'))
  })

  it('strips the mount root from the cgroup path', () => {
    // The cgroup2 file system is mounted with root /kubepods/pod1 at /sys/fs/cgroup,
    // so the cgroup /kubepods/pod1/ctr lives at /sys/fs/cgroup/ctr.
    const mountinfo = '1210 1200 0:26 /kubepods/pod1 /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n'
    const root = v2('/kubepods/pod1/ctr', { ctr: '300000 100000\n', 'kubepods/pod1/ctr': '100000 100000\n' }, mountinfo)
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 3)
    assert.equal(info.quota?.file, join(root, 'sys/fs/cgroup/ctr/cpu.max'))
  })

  it('follows a cgroup2 mount at another mount point', () => {
    const mountinfo =
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n' +
      '40 22 0:35 / /mnt/cg2 rw,nosuid,nodev,noexec,relatime shared:20 - cgroup2 none rw\n'
    const root = fakeRoot({
      'proc/self/cgroup': '0::/job\n',
      'proc/self/mountinfo': mountinfo,
      'mnt/cg2/job/cpu.max': '100000 100000\n',
      'sys/fs/cgroup/job/cpu.max': '500000 100000\n',
    })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 1)
    assert.equal(info.quota?.file, join(root, 'mnt/cg2/job/cpu.max'))
  })

  it('without mountinfo, looks under /sys/fs/cgroup', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/svc\n',
      'sys/fs/cgroup/svc/cpu.max': '200000 100000\n',
    })
    assert.equal(cpuInfo({ root, affinity: 8, env: noEnv }).count, 2)
  })

  it(
    'strips the mount root only at a path component boundary',
    () => {
      const mountinfo = '30 23 0:26 /a /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n'
      const root = v2('/ab/c', { 'ab/c': '100000 100000\n', 'b/c': '300000 100000\n' }, mountinfo)
      const info = cpuInfo({ root, affinity: 8, env: noEnv })
      assert.equal(info.quota?.file, join(root, 'sys/fs/cgroup/ab/c/cpu.max'))
      assert.equal(info.count, 1)
    },
  )

  it('ignores garbage in cpu.max', () => {
    for (const garbage of ['', '\n', 'abc 100000', '-1 100000', '100000 0', '100000 abc', '0 100000']) {
      const root = v2('/pod', { pod: garbage })
      const info = cpuInfo({ root, affinity: 4, env: noEnv })
      assert.equal(info.quota, null, JSON.stringify(garbage))
      assert.equal(info.count, 4)
    }
  })
})

describe('cpuInfo: cgroup v1', () => {
  function v1(path: string, quota: string, period: string, options: { mountinfo?: string; dir?: string } = {}): string {
    const dir = options.dir ?? 'sys/fs/cgroup/cpu,cpuacct'
    const files: Record<string, string> = {
      'proc/self/cgroup': `12:memory:${path}\n4:cpu,cpuacct:${path}\n1:name=systemd:${path}\n`,
      [join(dir, path, 'cpu.cfs_quota_us')]: `${quota}\n`,
      [join(dir, path, 'cpu.cfs_period_us')]: `${period}\n`,
    }
    if (options.mountinfo !== undefined) files['proc/self/mountinfo'] = options.mountinfo
    return fakeRoot(files)
  }

  it('cfs_quota_us / cfs_period_us, rounded up', () => {
    const root = v1('/docker/abc', '150000', '100000', { mountinfo: V1_MOUNTS })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 2)
    assert.equal(info.decidedBy, 'cgroup-v1')
    assert.deepEqual(info.quota, {
      version: 1,
      quotaUs: 150000,
      periodUs: 100000,
      cpus: 1.5,
      file: join(root, 'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us'),
    })
  })

  it('a quota below one CPU gives 1', () => {
    const root = v1('/docker/abc', '20000', '100000', { mountinfo: V1_MOUNTS })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 1)
    assert.equal(info.quota?.cpus, 0.2)
  })

  it('-1 means unlimited', () => {
    const root = v1('/docker/abc', '-1', '100000', { mountinfo: V1_MOUNTS })
    const info = cpuInfo({ root, affinity: 6, env: noEnv })
    assert.equal(info.quota, null)
    assert.equal(info.count, 6)
    assert.equal(info.decidedBy, 'affinity')
  })

  it('without mountinfo, finds the cpu,cpuacct hierarchy at its usual place', () => {
    const root = v1('/docker/abc', '300000', '100000')
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 3)
    assert.equal(info.decidedBy, 'cgroup-v1')
  })

  it('without mountinfo, also tries /sys/fs/cgroup/cpu', () => {
    const root = v1('/docker/abc', '200000', '100000', { dir: 'sys/fs/cgroup/cpu' })
    assert.equal(cpuInfo({ root, affinity: 8, env: noEnv }).count, 2)
  })

  it('a tighter ancestor wins', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '4:cpu,cpuacct:/kubepods/pod1/ctr\n',
      'proc/self/mountinfo': V1_MOUNTS,
      'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us': '200000\n',
      'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us': '100000\n',
    })
    const info = cpuInfo({ root, affinity: 16, env: noEnv })
    assert.equal(info.count, 2)
    assert.equal(info.quota?.file, join(root, 'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us'))
  })

  it('strips the mount root of a v1 cpu mount', () => {
    // Docker with a cgroup namespace: the hierarchy is mounted from /docker/abc.
    const mountinfo = '33 25 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n'
    const root = fakeRoot({
      'proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n',
      'proc/self/mountinfo': mountinfo,
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '250000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 3)
  })

  it('a missing period file means no quota', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '4:cpu,cpuacct:/x\n',
      'sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us': '100000\n',
    })
    assert.equal(cpuInfo({ root, affinity: 4, env: noEnv }).quota, null)
  })

  it('a controller line without cpu is ignored', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '12:memory:/x\n3:cpuset:/x\n',
      'sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_period_us': '100000\n',
    })
    assert.equal(cpuInfo({ root, affinity: 4, env: noEnv }).quota, null)
  })

  it('a hybrid host: the tightest of v1 and v2 wins', () => {
    const root = fakeRoot({
      'proc/self/cgroup': '0::/svc\n4:cpu,cpuacct:/svc\n',
      'proc/self/mountinfo': V1_MOUNTS + '35 25 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n',
      'sys/fs/cgroup/unified/svc/cpu.max': '300000 100000\n',
      'sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_quota_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_period_us': '100000\n',
    })
    const info = cpuInfo({ root, affinity: 8, env: noEnv })
    assert.equal(info.count, 1)
    assert.equal(info.decidedBy, 'cgroup-v1')
  })
})

describe('cpuInfo: affinity and MULTIPROC_CPU_COUNT', () => {
  it('affinity smaller than the quota decides', () => {
    const root = v2('/pod', { pod: '400000 100000\n' })
    const info = cpuInfo({ root, affinity: 3, env: noEnv })
    assert.equal(info.count, 3)
    assert.equal(info.decidedBy, 'affinity')
    assert.equal(info.affinity, 3)
  })

  it('no cgroup at all: the affinity', () => {
    const root = fakeRoot({})
    const info = cpuInfo({ root, affinity: 5, env: noEnv })
    assert.deepEqual(info, { count: 5, decidedBy: 'affinity', affinity: 5, quota: null, override: null })
  })

  it('an affinity below 1 counts as 1', () => {
    const info = cpuInfo({ root: fakeRoot({}), affinity: 0, env: noEnv })
    assert.equal(info.count, 1)
    assert.equal(info.affinity, 1)
  })

  it('MULTIPROC_CPU_COUNT overrides the quota and the affinity', () => {
    const root = v2('/pod', { pod: '100000 100000\n' })
    const below = cpuInfo({ root, affinity: 8, env: { MULTIPROC_CPU_COUNT: '4' } })
    assert.equal(below.count, 4)
    assert.equal(below.decidedBy, 'env')
    assert.equal(below.override, 4)
    assert.equal(below.quota?.cpus, 1, 'the quota is still reported')
    const above = cpuInfo({ root, affinity: 8, env: { MULTIPROC_CPU_COUNT: '32' } })
    assert.equal(above.count, 32)
    assert.equal(above.decidedBy, 'env')
  })

  it('invalid MULTIPROC_CPU_COUNT values are ignored', () => {
    const root = v2('/pod', { pod: '200000 100000\n' })
    for (const value of ['', '0', '-2', '1.5', 'abc', 'NaN', 'Infinity']) {
      const info = cpuInfo({ root, affinity: 8, env: { MULTIPROC_CPU_COUNT: value } })
      assert.equal(info.override, null, JSON.stringify(value))
      assert.equal(info.count, 2, JSON.stringify(value))
      assert.equal(info.decidedBy, 'cgroup-v2', JSON.stringify(value))
    }
  })

  it('reads the environment given, not process.env', () => {
    const saved = process.env.MULTIPROC_CPU_COUNT
    process.env.MULTIPROC_CPU_COUNT = '3'
    try {
      const info = cpuInfo({ root: fakeRoot({}), affinity: 8, env: {} })
      assert.equal(info.override, null)
      assert.equal(info.count, 8)
    } finally {
      if (saved === undefined) delete process.env.MULTIPROC_CPU_COUNT
      else process.env.MULTIPROC_CPU_COUNT = saved
    }
  })
})

describe('cpuInfo: never throws', () => {
  it('a root that does not exist', () => {
    const info = cpuInfo({ root: join(base, 'does-not-exist'), affinity: 2, env: noEnv })
    assert.equal(info.count, 2)
    assert.equal(info.quota, null)
  })

  it('an empty or garbage /proc/self/cgroup and mountinfo', () => {
    for (const cgroup of ['', '\n\n', 'garbage', '0::', ':::', '0::/x\n']) {
      const root = fakeRoot({ 'proc/self/cgroup': cgroup, 'proc/self/mountinfo': 'not a mountinfo line\n - \n1 2 3\n' })
      const info = cpuInfo({ root, affinity: 2, env: noEnv })
      assert.equal(info.count, 2, JSON.stringify(cgroup))
    }
  })

  it('a cgroup path with .. segments does not escape the mount', () => {
    const root = v2('/../../..', { '': '100000 100000\n' })
    const info = cpuInfo({ root, affinity: 4, env: noEnv })
    assert.equal(info.count, 1)
  })

  it('a cpu.max that is a directory, or unreadable', () => {
    const root = fakeRoot({ 'proc/self/cgroup': '0::/pod\n' })
    mkdirSync(join(root, 'sys/fs/cgroup/pod/cpu.max'), { recursive: true })
    assert.equal(cpuInfo({ root, affinity: 2, env: noEnv }).count, 2)

    const root2 = v2('/pod', { pod: '100000 100000\n' })
    chmodSync(join(root2, 'sys/fs/cgroup/pod/cpu.max'), 0o000)
    const info = cpuInfo({ root: root2, affinity: 2, env: noEnv })
    // root can still read it; anyone else finds no quota. Either way, no throw.
    assert.ok(info.count === 1 || info.count === 2)
    chmodSync(join(root2, 'sys/fs/cgroup/pod/cpu.max'), 0o644)
  })
})

describe('cpuCount()', () => {
  it('returns a positive integer', () => {
    const n = cpuCount()
    assert.ok(Number.isInteger(n) && n >= 1, String(n))
  })

  it('agrees with cpuInfo() on the real machine', () => {
    assert.equal(cpuCount(), cpuInfo().count)
  })

  it('honours MULTIPROC_CPU_COUNT', () => {
    const saved = process.env.MULTIPROC_CPU_COUNT
    process.env.MULTIPROC_CPU_COUNT = '7'
    try {
      assert.equal(cpuCount(), 7)
      assert.equal(cpuInfo().decidedBy, 'env')
    } finally {
      if (saved === undefined) delete process.env.MULTIPROC_CPU_COUNT
      else process.env.MULTIPROC_CPU_COUNT = saved
    }
  })
})

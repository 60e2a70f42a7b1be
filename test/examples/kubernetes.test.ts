// The Kubernetes example: the autoscaler (a KEDA ScaledObject) scales the
// workers' Deployment by the queue of multiproc's own stream and consumer,
// read on the NATS monitoring port; the Deployment serves the metrics the
// pod annotations point at. Checked against the Kubernetes and KEDA schemas
// when `kubernetes-models` and `@kubernetes-models/keda` are installed
// (they bundle the schemas: no network), parsed and checked field by field
// otherwise.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { names } from '../../src/backends/nats/protocol.js'

const DIR = new URL('../../examples/kubernetes/', import.meta.url)

type Manifest = Record<string, any>

// In variables: optional packages a test may find missing.
const YAML_PACKAGE: string = 'yaml'
const K8S_APPS: string = 'kubernetes-models/apps/v1'
const KEDA: string = '@kubernetes-models/keda/keda.sh/v1alpha1'

async function optional<T>(name: string): Promise<T | null> {
  try {
    return (await import(name)) as T
  } catch {
    return null
  }
}

const yaml = await optional<{ parse(text: string): unknown }>(YAML_PACKAGE)

function manifest(file: string): Manifest {
  return yaml!.parse(readFileSync(new URL(file, DIR), 'utf8')) as Manifest
}

describe('examples/kubernetes', { skip: yaml === null ? 'the yaml package is not installed' : false }, () => {
  it('scales the workers Deployment by the pending and in-flight messages of the default stream and consumer', () => {
    const deployment = manifest('worker-deployment.yaml')
    const scaler = manifest('worker-scaledobject.yaml')
    assert.equal(deployment.kind, 'Deployment')
    assert.equal(scaler.apiVersion, 'keda.sh/v1alpha1')
    assert.equal(scaler.kind, 'ScaledObject')
    assert.equal(scaler.spec.scaleTargetRef.name, deployment.metadata.name)
    assert.equal(scaler.spec.scaleTargetRef.kind ?? 'Deployment', 'Deployment')
    assert.ok(scaler.spec.minReplicaCount >= 1, 'zero replicas before the consumer exists makes KEDA count the whole stream')
    assert.ok(scaler.spec.maxReplicaCount >= scaler.spec.minReplicaCount)
    const [trigger, ...others] = scaler.spec.triggers
    assert.equal(others.length, 0)
    assert.equal(trigger.type, 'nats-jetstream')
    const defaults = names('multiproc', 'MULTIPROC')
    assert.equal(trigger.metadata.stream, defaults.stream)
    assert.equal(trigger.metadata.consumer, defaults.consumer)
    assert.equal(trigger.metadata.consumer, 'MULTIPROC_workers')
    assert.equal(trigger.metadata.account, '$G')
    // host:port of the monitoring endpoint (-m 8222), not a nats:// URL.
    assert.match(trigger.metadata.natsServerMonitoringEndpoint, /^[a-z0-9.-]+:8222$/)
    // KEDA reads trigger metadata as strings.
    for (const [key, value] of Object.entries(trigger.metadata)) assert.equal(typeof value, 'string', key)
    assert.ok(Number(trigger.metadata.lagThreshold) > 0)
  })

  it('serves the worker metrics where the pod annotations say', () => {
    const deployment = manifest('worker-deployment.yaml')
    const template = deployment.spec.template
    const [container] = template.spec.containers
    const args: string[] = container.args
    const metrics = args[args.indexOf('--metrics') + 1]
    assert.equal(metrics, '0.0.0.0:9464')
    assert.deepEqual(container.ports, [{ name: 'metrics', containerPort: 9464 }])
    assert.equal(template.metadata.annotations['prometheus.io/port'], '9464')
    assert.equal(template.metadata.annotations['prometheus.io/path'], '/metrics')
  })

  it('runs the worker unsupervised: the kubelet restarts the container and counts its restarts', () => {
    const deployment = manifest('worker-deployment.yaml')
    const [container] = deployment.spec.template.spec.containers
    assert.ok(container.args.includes('--no-supervise'))
    assert.equal(deployment.spec.template.spec.restartPolicy ?? 'Always', 'Always')
  })

  it('validates against the Kubernetes and KEDA schemas', async (t) => {
    const apps = await optional<{ Deployment: new (value: unknown) => { validate(): void } }>(K8S_APPS)
    const keda = await optional<{ ScaledObject: new (value: unknown) => { validate(): void } }>(KEDA)
    if (apps === null || keda === null) {
      t.skip('kubernetes-models and @kubernetes-models/keda are not installed')
      return
    }
    new apps.Deployment(manifest('worker-deployment.yaml')).validate()
    const scaler = manifest('worker-scaledobject.yaml')
    new keda.ScaledObject(scaler).validate()
    // The schema check does catch mistakes.
    assert.throws(() => new keda.ScaledObject({ ...scaler, spec: { ...scaler.spec, scaleTargetRef: {} } }).validate(), /scaleTargetRef must have required property 'name'|scaleTargetRef/)
  })
})

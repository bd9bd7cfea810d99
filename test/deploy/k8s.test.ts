import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES_WITH_STORAGE, SERVICE_MODULES } from '@agora/cli';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';
import { LIMITS } from '@agora/kernel';
import { CONNECTION_BUDGET } from '@agora/platform';
import {
  TEST_NATS_URL,
  TEST_REDIS_URL,
  createTestDatabase,
  deleteNatsStream,
  deleteRedisKeys,
  freePort,
  natsAvailable,
  postgresBackend,
  redisAvailable,
  uniqueNatsNames,
  uniqueRedisPrefix,
} from '@agora/platform/testing';
import {
  CONTAINERFILE,
  K8S_DIR,
  KUSTOMIZATION_FILE,
  REPO_ROOT,
  imageEnvironment,
  imageExecForm,
  imageHealthcheckCommand,
  loadKustomization,
  loadManifests,
  schemaProblems,
  yamlFiles,
  type KubeObject,
  type Manifest,
} from './k8s-manifests.js';

/** What `agora service NAME` runs (as apps/agora/src/service-runner.ts's RUNNABLE). */
const RUNNABLE = ['gateway', ...SERVICE_MODULES.map((m) => m.name)];
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = `agora:${VERSION}`;
/** The one file under deploy/k8s no kustomization lists: the real Secret is created by hand. */
const SECRET_EXAMPLE = 'secret.example.yaml';
const PLACEHOLDER = 'CHANGE_ME';

/**
 * Variables every pod of a cluster needs. The code refuses to start without some (agora service:
 * the secret, PostgreSQL, Redis, NATS); the others it would default in a way that breaks a cluster
 * of many pods.
 */
const REQUIRED_BY_EVERY_POD: Readonly<Record<string, string>> = {
  DATABASE_URL: 'agora service stops when PostgreSQL is missing',
  REDIS_URL: 'discovery and the gateways\u2019 rate-limit counters',
  NATS_URL: 'the event bus between pods',
  AGORA_INTERNAL_SECRET: 'agora service stops without it: it signs every call between pods',
  AGORA_JWT_SECRET: 'unset, each pod generates its own and refuses the tokens of the others',
  AGORA_PAYMENT_WEBHOOK_SECRET: 'unset, each payment pod signs webhooks with a random secret of its own',
};
/** Per pod of a service (not the gateway): where it listens and what it registers in discovery. */
const REQUIRED_BY_SERVICE_PODS: Readonly<Record<string, string>> = {
  AGORA_ADVERTISE_HOST: 'unset, a service listens on and advertises loopback: no other pod could call it',
  AGORA_SERVICE_PORT: 'unset, a service takes a random port: probes and scrapes could not find it',
};

/** A PostgreSQL server as installed: the budget the autoscalers' ceilings must fit without PgBouncer. */
const DEFAULT_POSTGRES = { maxConnections: 100, reservedConnections: 3 } as const;
/** A gateway keeps one connection per main database (the shard maps of the admin cluster view). */
const GATEWAY_CONNECTIONS = 1;

const manifests = loadManifests();

function objects(kind: string): KubeObject[] {
  return manifests.filter((m) => m.object.kind === kind).map((m) => m.object);
}

function one(kind: string, name: string): KubeObject {
  const found = objects(kind).filter((o) => o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0] as KubeObject;
}

// The shapes the checks read (the schema test has checked them against the real ones).
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; configMapKeyRef?: { name: string; key: string }; secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
}
interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: Container[];
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number };
    terminationGracePeriodSeconds?: number;
    volumes?: { name: string; emptyDir?: object }[];
  };
}

function podTemplate(workload: KubeObject): PodTemplate {
  return (workload.spec as { template: PodTemplate }).template;
}

function container(workload: KubeObject): Container {
  const containers = podTemplate(workload).spec.containers;
  expect(containers, `${workload.metadata.name}: one container`).toHaveLength(1);
  return containers[0] as Container;
}

/** The port number a probe or annotation names (a container port's name or its number). */
function portNumber(c: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const found = c.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`${c.name}: no port named ${port}`);
  return found.containerPort;
}

/** Values the downward API gives a pod, as a test process stands in for one. */
type FieldValues = Readonly<Record<string, string>>;

/**
 * The environment a container starts with: the image's ENV, then envFrom (ConfigMap, Secret) in
 * order, then its own env, as the kubelet assembles it. A reference to a missing ConfigMap,
 * Secret, key or downward-API field throws.
 */
function containerEnvironment(c: Container, fields: FieldValues, secretValue: (key: string, value: string) => string = (_k, v) => v): Record<string, string> {
  const configMaps = new Map(objects('ConfigMap').map((o) => [o.metadata.name, (o.data ?? {}) as Record<string, string>]));
  const secrets = new Map(
    objects('Secret').map((o) => {
      const data = (o.stringData ?? {}) as Record<string, string>;
      return [o.metadata.name, Object.fromEntries(Object.entries(data).map(([k, v]) => [k, secretValue(k, v)]))];
    }),
  );
  const lookup = (source: Map<string, Record<string, string>>, what: string, name: string, key?: string): Record<string, string> | string => {
    const data = source.get(name);
    if (!data) throw new Error(`${c.name}: ${what} ${name} does not exist under deploy/k8s`);
    if (key === undefined) return data;
    const value = data[key];
    if (value === undefined) throw new Error(`${c.name}: ${what} ${name} has no key ${key}`);
    return value;
  };
  const env: Record<string, string> = { ...imageEnvironment() };
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, lookup(configMaps, 'ConfigMap', from.configMapRef.name));
    if (from.secretRef) Object.assign(env, lookup(secrets, 'Secret', from.secretRef.name));
  }
  for (const variable of c.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (from?.fieldRef) {
      const value = fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${c.name}: ${variable.name} from ${from.fieldRef.fieldPath}, which this test does not stand in for`);
      env[variable.name] = value;
    } else if (from?.configMapKeyRef) env[variable.name] = lookup(configMaps, 'ConfigMap', from.configMapKeyRef.name, from.configMapKeyRef.key) as string;
    else if (from?.secretKeyRef) env[variable.name] = lookup(secrets, 'Secret', from.secretKeyRef.name, from.secretKeyRef.key) as string;
    else throw new Error(`${c.name}: ${variable.name} has neither a value nor a source`);
  }
  return env;
}

const STAND_IN_FIELDS: FieldValues = { 'status.podIP': '127.0.0.1', 'metadata.name': 'agora-test-pod', 'spec.nodeName': 'test-node' };

/** The text of every production source file, to tell whether a variable is one the code reads. */
function productionSources(): string {
  const roots = ['packages', 'services', 'apps'].flatMap((group) => readdirSync(join(REPO_ROOT, group)).map((ws) => join(REPO_ROOT, group, ws, 'src')));
  const texts: string[] = [];
  for (const root of roots) {
    let files: string[];
    try {
      files = readdirSync(root, { recursive: true, encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const file of files) if (/\.tsx?$/.test(file) && !file.includes('testing')) texts.push(readFileSync(join(root, file), 'utf8'));
  }
  return texts.join('\n');
}

/** Variables set by deploy/k8s that no production code reads (a misspelling is silently ignored by the process). */
function unreadVariables(names: Iterable<string>, sources: string): string[] {
  return [...names].filter((name) => !new RegExp(`['"\`]${name}['"\`]`).test(sources)).sort();
}

/** Every variable name deploy/k8s sets, in any ConfigMap, Secret or container. */
function variablesSet(list: readonly Manifest[] = manifests): Set<string> {
  const names = new Set<string>();
  for (const { object } of list) {
    if (object.kind === 'ConfigMap') for (const key of Object.keys((object.data ?? {}) as object)) names.add(key);
    if (object.kind === 'Secret') for (const key of Object.keys((object.stringData ?? object.data ?? {}) as object)) names.add(key);
    if (object.kind === 'Deployment' || object.kind === 'Job') for (const c of podTemplate(object).spec.containers) for (const v of c.env ?? []) names.add(v.name);
  }
  return names;
}

describe('deploy/k8s: the manifests against the Kubernetes schemas', () => {
  it('parses every document, and each is valid for the schema of its kind with no unknown field', () => {
    const kinds = new Set(manifests.map((m) => m.object.kind));
    expect([...kinds].sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Job', 'Namespace', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const { file, object } of manifests) {
      expect(schemaProblems(object), `${file}: ${object.kind} ${object.metadata.name}`).toEqual([]);
      expect(object.metadata.namespace ?? object.metadata.name, `${file}: ${object.kind} in the agora namespace`).toBe('agora');
    }
  });

  it('the validator refuses a misspelled field, a wrong type, a missing required field and an unknown kind', () => {
    const deployment = one('Deployment', 'agora-catalog');
    const broken = (change: (d: { spec: Record<string, unknown> & { template: PodTemplate } }) => void): string[] => {
      const copy = structuredClone(deployment) as unknown as { spec: Record<string, unknown> & { template: PodTemplate } };
      change(copy);
      return schemaProblems(copy);
    };
    expect(schemaProblems(deployment)).toEqual([]);
    expect(
      broken((d) => {
        (d.spec.template.spec.containers[0] as unknown as Record<string, Record<string, unknown>>).readinessProbe!.periodSecond = 5;
      }),
    ).toEqual(['unknown field "spec.template.spec.containers[0].readinessProbe.periodSecond"']);
    expect(broken((d) => (d.spec.replicas = 'two'))).toEqual([expect.stringContaining('spec/replicas must be integer')]);
    expect(broken((d) => delete (d.spec as Partial<typeof d.spec>).selector)).toEqual([expect.stringContaining('spec must have required property selector')]);
    expect(
      broken((d) => {
        (d.spec.template.spec.containers[0] as Container).resources!.limits!.memory = 'lots';
      }),
    ).toEqual([expect.stringContaining('limits/memory must match format "quantity"')]);
    expect(schemaProblems({ apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'x' } })).toEqual([expect.stringContaining('no schema here for apps/v1beta1 Deployment')]);
  });

  it('the kustomizations list every manifest but the Secret example, with the image at the package version', () => {
    const listed = new Set<string>();
    const kustomizations = yamlFiles().filter((f) => f.endsWith(KUSTOMIZATION_FILE));
    expect(kustomizations.sort()).toEqual(['kustomization.yaml', 'migrate/kustomization.yaml']);
    for (const file of kustomizations) {
      const dir = join(K8S_DIR, file, '..');
      const kustomization = loadKustomization(dir);
      for (const resource of kustomization.resources) listed.add(join(file, '..', resource));
      expect(kustomization.images, file).toEqual([{ name: 'agora', newTag: VERSION }]);
    }
    const manifestFiles = yamlFiles().filter((f) => !f.endsWith(KUSTOMIZATION_FILE));
    expect(manifestFiles.filter((f) => !listed.has(f))).toEqual([SECRET_EXAMPLE]);
    expect([...listed].filter((f) => !manifestFiles.includes(f))).toEqual([]);
    for (const kind of ['Deployment', 'Job']) for (const workload of objects(kind)) expect(container(workload).image, workload.metadata.name).toBe(IMAGE);
    // The image these name is the one the Containerfile makes: its entry is the compiled CLI.
    expect(imageExecForm('ENTRYPOINT')).toEqual(['node', 'apps/agora/dist/src/main.js']);
    expect(readFileSync(join(REPO_ROOT, 'deploy/container/build-image.sh'), 'utf8')).toContain('IMAGE="${IMAGE:-localhost/agora:${VERSION}}"');
  });
});

describe('deploy/k8s: what Agora needs of them', () => {
  it('runs every service and the gateway as a Deployment with a Service, a CPU autoscaler and a disruption budget', () => {
    expect(objects('Deployment').map((d) => d.metadata.name).sort()).toEqual(RUNNABLE.map((n) => `agora-${n}`).sort());
    for (const name of RUNNABLE) {
      const deployment = one('Deployment', `agora-${name}`);
      const spec = deployment.spec as { replicas?: number; selector: { matchLabels: Record<string, string> } };
      const labels = podTemplate(deployment).metadata.labels ?? {};
      expect(spec.replicas, `${name}: the autoscaler owns the replica count`).toBeUndefined();
      expect(labels).toMatchObject(spec.selector.matchLabels);
      expect(container(deployment).args).toEqual(['service', name]);

      const service = one('Service', `agora-${name}`).spec as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
      expect(labels, `${name}: the Service selects the pods`).toMatchObject(service.selector);
      for (const port of service.ports) expect(portNumber(container(deployment), port.targetPort)).toBe(8080);

      const hpa = one('HorizontalPodAutoscaler', `agora-${name}`).spec as {
        scaleTargetRef: { apiVersion: string; kind: string; name: string };
        minReplicas: number;
        maxReplicas: number;
        metrics: { type: string; resource?: { name: string } }[];
      };
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: `agora-${name}` });
      expect(hpa.metrics).toEqual([expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) })]);
      expect(hpa.minReplicas, `${name}: two pods at least, so one can be evicted`).toBeGreaterThanOrEqual(2);

      const pdb = one('PodDisruptionBudget', `agora-${name}`).spec as { minAvailable: number; selector: { matchLabels: Record<string, string> } };
      expect(labels).toMatchObject(pdb.selector.matchLabels);
      expect(pdb.minAvailable, `${name}: a drain may still evict one pod`).toBeLessThan(hpa.minReplicas);
    }
    const ingress = one('Ingress', 'agora').spec as { rules: { http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[] };
    for (const rule of ingress.rules) for (const path of rule.http.paths) expect(path.backend.service).toEqual({ name: 'agora-gateway', port: { name: 'http' } });
    const job = one('Job', 'agora-migrate');
    expect(container(job).args).toEqual(['migrate']);
  });

  it('gives every pod probes and Prometheus annotations on its port, resources, a non-root read-only container and time to drain', () => {
    const imageUser = /^USER\s+(\d+):(\d+)$/m.exec(readFileSync(CONTAINERFILE, 'utf8'));
    expect(imageUser, 'the image runs as a numeric user').not.toBeNull();
    for (const workload of [...objects('Deployment'), ...objects('Job')]) {
      const name = workload.metadata.name;
      const pod = podTemplate(workload);
      const c = container(workload);
      expect(c.resources?.requests, `${name}: requests (the autoscaler measures CPU against them)`).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources?.limits?.memory, `${name}: a memory limit`).toEqual(expect.any(String));
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(imageUser?.[1]), runAsGroup: Number(imageUser?.[2]) });
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      // Read-only root: the data directory and HOME of the image must be on a writable volume.
      const env = containerEnvironment(c, STAND_IN_FIELDS);
      const writable = (c.volumeMounts ?? []).filter((m) => pod.spec.volumes?.some((v) => v.name === m.name && v.emptyDir)).map((m) => m.mountPath);
      for (const dir of [env.AGORA_DATA_DIR, env.HOME]) expect(writable.some((mount) => dir?.startsWith(`${mount}/`) || dir === mount), `${name}: ${dir} writable`).toBe(true);
      if (workload.kind === 'Job') continue;

      const port = c.ports?.find((p) => p.name === 'http');
      expect(port?.containerPort, `${name}: the http port`).toBe(8080);
      const portVariable = c.args?.[1] === 'gateway' ? 'PORT' : 'AGORA_SERVICE_PORT';
      expect(env[portVariable], `${name}: ${portVariable} is the port the probes and Prometheus use`).toBe(String(port?.containerPort));
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) expect(portNumber(c, probe?.httpGet?.port ?? -1)).toBe(port?.containerPort);
      expect(c.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(c.readinessProbe?.httpGet?.path).toBe('/health/ready');
      expect(pod.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port?.containerPort), 'prometheus.io/path': '/metrics' });
      // SIGTERM drains (LIMITS.shutdownGraceMs at most) after the preStop pause: the kubelet must wait for both.
      const preStopMs = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
      expect((pod.spec.terminationGracePeriodSeconds ?? 30) * 1000, name).toBeGreaterThan(preStopMs + LIMITS.shutdownGraceMs);
    }
  });

  it('sets only variables the code reads, and the check catches one it does not', () => {
    const sources = productionSources();
    expect(unreadVariables(variablesSet(), sources)).toEqual([]);
    expect(unreadVariables(['AGORA_DB_POOLMAX', 'AGORA_DB_POOL_MAX'], sources)).toEqual(['AGORA_DB_POOLMAX']);
  });

  it('provides every variable a pod needs, and every reference resolves', () => {
    for (const workload of objects('Deployment')) {
      const c = container(workload);
      const env = containerEnvironment(c, STAND_IN_FIELDS);
      const required = { ...REQUIRED_BY_EVERY_POD, ...(c.args?.[1] === 'gateway' ? {} : REQUIRED_BY_SERVICE_PODS) };
      for (const [variable, why] of Object.entries(required)) expect(env[variable], `${workload.metadata.name}: ${variable} (${why})`).toBeTruthy();
      if (c.args?.[1] !== 'gateway') {
        const advertised = c.env?.find((v) => v.name === 'AGORA_ADVERTISE_HOST');
        expect(advertised?.valueFrom?.fieldRef?.fieldPath, `${workload.metadata.name} advertises its pod IP`).toBe('status.podIP');
      }
    }
    expect(() => containerEnvironment(container(one('Job', 'agora-migrate')), STAND_IN_FIELDS)).not.toThrow();
    // Only placeholders in the committed Secret, and ones the process refuses (shorter than a secret may be).
    const secret = one('Secret', 'agora-secrets').stringData as Record<string, string>;
    for (const [key, value] of Object.entries(secret)) expect(value, key).toContain(PLACEHOLDER);
    // A reference to a key the Secret lacks is an error, not an empty variable.
    const broken = structuredClone(container(one('Deployment', 'agora-catalog')));
    broken.env = [...(broken.env ?? []), { name: 'X', valueFrom: { secretKeyRef: { name: 'agora-secrets', key: 'NO_SUCH_KEY' } } }];
    expect(() => containerEnvironment(broken, STAND_IN_FIELDS)).toThrow(/has no key NO_SUCH_KEY/);
  });

  it('keeps the autoscalers\u2019 ceilings within a default PostgreSQL\u2019s connections', () => {
    const poolMax = Number((one('ConfigMap', 'agora-config').data as Record<string, string>).AGORA_DB_POOL_MAX);
    const maxReplicas = (name: string) => (one('HorizontalPodAutoscaler', `agora-${name}`).spec as { maxReplicas: number }).maxReplicas;
    const connections = SERVICES_WITH_STORAGE.reduce((sum, name) => sum + maxReplicas(name) * poolMax, 0) + maxReplicas('gateway') * GATEWAY_CONNECTIONS + CONNECTION_BUDGET.marginConnections;
    expect(connections).toBeLessThanOrEqual(DEFAULT_POSTGRES.maxConnections - DEFAULT_POSTGRES.reservedConnections);
  });
});

/**
 * The pods this test starts: the gateway and one service stand for all (every Deployment takes the
 * same ConfigMap and Secret and differs only in its command and port variable, checked above);
 * seven processes would cost this suite too much of a 2-core machine.
 */
const STARTED = ['gateway', 'catalog'] as const;
/** Generous: on a loaded 2-core machine a process run from source (a stale build) takes minutes to listen. */
const READY_TIMEOUT_MS = 240_000;
const POLL_MS = 250;

interface Pod {
  name: string;
  port: number;
  env: Record<string, string>;
  process: ChildProcess;
  output: string[];
}

/** The image's HEALTHCHECK command, run here with a pod's environment: its exit status. */
function imageHealthcheck(env: Record<string, string>): Promise<number> {
  const [node, script] = imageHealthcheckCommand();
  // In the image the script is /app/healthcheck.mjs, copied from deploy/container.
  return new Promise((resolve, reject) => {
    const child = spawn(node === 'node' ? process.execPath : (node ?? ''), [join(REPO_ROOT, 'deploy/container', basename(script ?? ''))], { env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? -1));
  });
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

describe.runIf(await postgresBackend.available() && (await redisAvailable()) && (await natsAvailable()))('deploy/k8s: pods started as the manifests say', () => {
  const pods: Pod[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  let dataDir = '';

  beforeAll(async () => {
    const database = await createTestDatabase('agora_k8s');
    cleanups.push(() => database.drop());
    const discoveryPrefix = uniqueRedisPrefix('agora_k8s');
    cleanups.push(() => deleteRedisKeys(discoveryPrefix));
    const nats = uniqueNatsNames('agora_k8s');
    cleanups.push(() => deleteNatsStream(nats.stream));
    dataDir = mkdtempSync(join(tmpdir(), 'agora-k8s-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const secrets = new Map<string, string>();
    const secretValue = (key: string, value: string): string => {
      if (key === 'DATABASE_URL') return database.url;
      if (!secrets.has(key)) secrets.set(key, randomBytes(48).toString('base64url'));
      return value.replace(PLACEHOLDER, secrets.get(key) ?? '');
    };
    const launcher = agoraLauncher();
    for (const workload of STARTED.map((name) => one('Deployment', `agora-${name}`))) {
      const c = container(workload);
      const port = await freePort();
      const portVariable = Object.entries(containerEnvironment(c, STAND_IN_FIELDS)).find(([k, v]) => ['PORT', 'AGORA_SERVICE_PORT'].includes(k) && v === '8080' && (k === 'PORT') === (c.args?.[1] === 'gateway'))?.[0];
      if (!portVariable) throw new Error(`${workload.metadata.name}: no port variable`);
      const env = {
        PATH: process.env.PATH ?? '',
        ...containerEnvironment(c, { ...STAND_IN_FIELDS, 'metadata.name': `${workload.metadata.name}-test` }, secretValue),
        // This machine is not a cluster: its own backends, namespaces of its own in them, a free port, loopback only.
        REDIS_URL: TEST_REDIS_URL,
        NATS_URL: TEST_NATS_URL,
        AGORA_DISCOVERY_PREFIX: discoveryPrefix,
        AGORA_NATS_STREAM: nats.stream,
        AGORA_NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        AGORA_DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        [portVariable]: String(port),
        AGORA_LOG_LEVEL: 'warn',
        AGORA_EXIT_WITH_PARENT: 'on',
      };
      // The CLI the image runs (compiled when the build is current, else from source through tsx).
      const child = spawn(launcher.node, launchArgs(launcher, c.args ?? []), { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const pod: Pod = { name: workload.metadata.name, port, env, process: child, output: [] };
      child.stdout?.on('data', (chunk: Buffer) => pod.output.push(chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => pod.output.push(chunk.toString()));
      pods.push(pod);
    }
    cleanups.push(() =>
      Promise.all(
        pods.map(
          (pod) =>
            new Promise<void>((resolve) => {
              if (pod.process.exitCode !== null || pod.process.signalCode !== null) return resolve();
              const kill = setTimeout(() => pod.process.kill('SIGKILL'), LIMITS.shutdownGraceMs + 5_000);
              pod.process.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              pod.process.kill('SIGTERM');
            }),
        ),
      ),
    );
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const pod of pods) {
      for (;;) {
        if (pod.process.exitCode !== null) throw new Error(`${pod.name} exited with ${pod.process.exitCode}:\n${pod.output.join('')}`);
        const ready = await get(`http://127.0.0.1:${pod.port}/health/ready`).catch(() => undefined);
        if (ready?.status === 200) break;
        if (Date.now() > deadline) throw new Error(`${pod.name} not ready in ${READY_TIMEOUT_MS} ms:\n${pod.output.join('')}`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
  }, READY_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    for (const step of cleanups.reverse()) await step();
  }, 60_000);

  it('each pod answers its startup, liveness and readiness probes and its Prometheus scrape with 200', async () => {
    expect(pods.map((p) => p.name)).toEqual(STARTED.map((n) => `agora-${n}`));
    for (const pod of pods) {
      const workload = one('Deployment', pod.name);
      const c = container(workload);
      const annotations = podTemplate(workload).metadata.annotations ?? {};
      for (const path of [c.startupProbe?.httpGet?.path, c.livenessProbe?.httpGet?.path, c.readinessProbe?.httpGet?.path]) {
        expect((await get(`http://127.0.0.1:${pod.port}${path}`)).status, `${pod.name} ${path}`).toBe(200);
      }
      const scrape = await get(`http://127.0.0.1:${pod.port}${annotations['prometheus.io/path']}`);
      expect(scrape.status, `${pod.name} /metrics`).toBe(200);
      expect(scrape.text).toMatch(/^# HELP /m);
    }
  });

  it('the image\u2019s health check says healthy for a ready pod and unhealthy where nothing answers', async () => {
    const nothing = String(await freePort());
    for (const pod of pods) {
      // Both port variables point at the pod (in a container, 8080 could only be its own process).
      expect(await imageHealthcheck({ ...pod.env, PORT: String(pod.port), AGORA_SERVICE_PORT: String(pod.port) }), pod.name).toBe(0);
      expect(await imageHealthcheck({ ...pod.env, PORT: nothing, AGORA_SERVICE_PORT: nothing }), pod.name).toBe(1);
    }
  });

  it('the gateway reaches a service at the address the service advertised (discovery with the pods\u2019 settings)', async () => {
    const gateway = pods.find((p) => p.name === 'agora-gateway');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let answer = await get(`http://127.0.0.1:${gateway?.port}/api/v1/products?limit=1`);
    while (answer.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      answer = await get(`http://127.0.0.1:${gateway?.port}/api/v1/products?limit=1`);
    }
    expect(answer.status, answer.text).toBe(200);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { Job } from 'kubernetes-models/batch/v1';

/**
 * deploy/k8s read and checked the way the API server would: each document against the
 * Kubernetes OpenAPI schema of its kind (the generated validators of `kubernetes-models`, a pinned
 * copy of the schemas, nothing fetched), and, as `kubectl apply --validate=strict` does, no field
 * the schema does not know (the upstream schemas allow unknown fields, so a misspelled optional
 * field would otherwise pass unseen).
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const K8S_DIR = join(REPO_ROOT, 'deploy/k8s');
export const CONTAINERFILE = join(REPO_ROOT, 'deploy/container/Containerfile');

/** A Kubernetes object as written: its kind and what the checks read of it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Manifest {
  /** Path under deploy/k8s. */
  file: string;
  object: KubeObject;
}

/** The kinds deploy/k8s may hold, each with the schema validator of its API version. */
const MODELS: Readonly<Record<string, { prototype: { validate(): void } }>> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'batch/v1/Job': Job,
};

export const KUSTOMIZATION_FILE = 'kustomization.yaml';

/** Every YAML file under `dir`, relative to it, sorted. */
export function yamlFiles(dir: string = K8S_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => relative(dir, join(dir, file)))
    .sort();
}

/** Parses YAML text into its documents; a syntax error, a duplicate key or a warning throws naming `source`. */
export function parseYaml(text: string, source: string): unknown[] {
  return parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).map((doc) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${source}: ${problems.map((p) => p.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

/** Every Kubernetes object under deploy/k8s (kustomizations apart), in file order. */
export function loadManifests(dir: string = K8S_DIR): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of yamlFiles(dir)) {
    if (file.endsWith(KUSTOMIZATION_FILE)) continue;
    for (const doc of parseYaml(readFileSync(join(dir, file), 'utf8'), file)) {
      if (doc === null) continue;
      manifests.push({ file, object: doc as KubeObject });
    }
  }
  return manifests;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Runs `validate` on `data` seen through proxies that record which properties the validator reads.
 * A generated validator reads every property its schema declares (to test whether it is there) and
 * every key of a map it validates; a property it never reads is one the schema does not know.
 */
function validateTracking(validate: () => void, data: Record<string, unknown>): { error: string | undefined; unknown: string[] } {
  const read = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const track = (target: object): object => {
    let proxy = proxies.get(target);
    if (!proxy) {
      read.set(target, new Set());
      proxy = new Proxy(target, {
        get(obj, key, receiver) {
          if (typeof key === 'string') read.get(obj)?.add(key);
          const value: unknown = Reflect.get(obj, key, receiver);
          return typeof value === 'object' && value !== null ? track(value) : value;
        },
      });
      proxies.set(target, proxy);
    }
    return proxy;
  };
  let error: string | undefined;
  try {
    validate.call(track(data));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const unknown: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    if (!isPlainObject(value)) return;
    const seen = read.get(value);
    for (const [key, child] of Object.entries(value)) {
      const at = path === '' ? key : `${path}.${key}`;
      // Not reached at all (the validator stopped early on an error): nothing to say about it.
      if (seen === undefined) continue;
      if (!seen.has(key)) unknown.push(at);
      else walk(child, at);
    }
  };
  walk(data, '');
  return { error, unknown };
}

/** What the schema says about one object: [] when the API server would take it. */
export function schemaProblems(object: unknown): string[] {
  if (!isPlainObject(object)) return ['not a mapping'];
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind must be strings'];
  const model = MODELS[`${apiVersion}/${kind}`];
  if (!model) return [`no schema here for ${apiVersion} ${kind} (known: ${Object.keys(MODELS).join(', ')})`];
  const { error, unknown } = validateTracking(model.prototype.validate, object);
  return [...(error === undefined ? [] : [error]), ...unknown.map((path) => `unknown field "${path}"`)];
}

/** `resources:` and `images:` of a kustomization.yaml. */
export interface Kustomization {
  resources: string[];
  images: { name: string; newName?: string; newTag?: string }[];
}

export function loadKustomization(dir: string): Kustomization {
  const [doc] = parseYaml(readFileSync(join(dir, KUSTOMIZATION_FILE), 'utf8'), join(dir, KUSTOMIZATION_FILE));
  const parsed = doc as Partial<Kustomization> & { apiVersion?: string; kind?: string };
  if (parsed.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || parsed.kind !== 'Kustomization') throw new Error(`${dir}: not a Kustomization`);
  return { resources: parsed.resources ?? [], images: parsed.images ?? [] };
}

/** The `ENV` of the Containerfile's last stage: what every container starts with before Kubernetes adds its own. */
export function imageEnvironment(containerfile: string = readFileSync(CONTAINERFILE, 'utf8')): Record<string, string> {
  const lines = containerfile.replace(/\\\n/g, ' ').split('\n');
  const lastFrom = lines.findLastIndex((line) => /^FROM\s/i.test(line));
  const env: Record<string, string> = {};
  for (const line of lines.slice(lastFrom)) {
    const match = /^ENV\s+(.*)$/i.exec(line.trim());
    if (!match?.[1]) continue;
    for (const pair of match[1].trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`Containerfile: ENV ${pair} is not NAME=value`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** One instruction of the Containerfile's last stage in its exec (JSON) form, e.g. ENTRYPOINT. */
export function imageExecForm(instruction: string, containerfile: string = readFileSync(CONTAINERFILE, 'utf8')): string[] {
  const line = containerfile.split('\n').findLast((l) => l.startsWith(`${instruction} `));
  if (!line) throw new Error(`Containerfile has no ${instruction}`);
  return JSON.parse(line.slice(instruction.length + 1)) as string[];
}

/** The command of the Containerfile's HEALTHCHECK (`HEALTHCHECK [options] CMD [...]`). */
export function imageHealthcheckCommand(containerfile: string = readFileSync(CONTAINERFILE, 'utf8')): string[] {
  const line = containerfile.split('\n').findLast((l) => l.startsWith('HEALTHCHECK '));
  const cmd = line?.indexOf(' CMD ') ?? -1;
  if (!line || cmd < 0) throw new Error('Containerfile has no HEALTHCHECK ... CMD [...]');
  return JSON.parse(line.slice(cmd + ' CMD '.length)) as string[];
}

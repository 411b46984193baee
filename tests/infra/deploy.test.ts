/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML, walked by key as the files are written */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { parseAllDocuments, parseDocument } from 'yaml';
import { registerWorkerCommands } from '../../cli/worker-commands';

/**
 * The deployment files (infra/deploy/): parsed with a YAML library, and held to what lmsi needs of
 * them — the search attributes lmsi registers, a GPU for every accelerator worker and none for the
 * light one, S3 credentials from the environment or a Secret (never in a config), and only flags
 * `lmsi worker` has. No container runs here: this is what can be checked without Docker or a cluster.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'infra', 'deploy');
const read = (f: string) => readFileSync(path.join(DEPLOY, f), 'utf8');

function parseYaml(file: string): unknown {
  const doc = parseDocument(read(file), { merge: true });
  expect(doc.errors.map((e) => `${file}: ${e.message}`)).toEqual([]);
  return doc.toJS();
}

function parseYamlDocuments(file: string): Record<string, any>[] {
  const docs = parseAllDocuments(read(file));
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  for (const d of docs) expect(d.errors.map((e) => `${file}: ${e.message}`)).toEqual([]);
  return docs.map((d) => d.toJS() as Record<string, any>);
}

const SEARCH_ATTRIBUTES = JSON.parse(
  readFileSync(path.join(ROOT, 'infra', 'temporal', 'search-attributes.json'), 'utf8'),
) as Record<string, string>;
const expectedAttributes = Object.entries(SEARCH_ATTRIBUTES)
  .map(([name, type]) => `${name}=${type}`)
  .sort();
/** The `for attribute in A=T B=T ...` list of a setup script. */
const attributesIn = (script: string) =>
  (/for attribute in ([^;]+);/.exec(script)?.[1] ?? '').trim().split(/\s+/).sort();

const workerOptions = (() => {
  const program = new Command();
  registerWorkerCommands(program);
  const worker = program.commands.find((c) => c.name() === 'worker')!;
  return new Set(worker.options.map((o) => o.long));
})();
/** `--name` of every `--name[=value]` argument. */
const flags = (args: string[]) => args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]);

describe('compose.yaml', () => {
  const compose = parseYaml('compose.yaml') as { services: Record<string, any> };
  const s = compose.services;

  test('Temporal on PostgreSQL with the namespace lmsi, the S3 server, the UI and both worker roles', () => {
    expect(Object.keys(s).sort()).toEqual(
      [
        'lmsi-accelerator',
        'lmsi-light',
        'postgresql',
        'seaweedfs',
        'temporal',
        'temporal-setup',
        'temporal-ui',
      ].sort(),
    );
    expect(s.temporal.environment).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
      DEFAULT_NAMESPACE: 'lmsi',
    });
    expect(s.seaweedfs.command).toContain('-s3');
  });

  test("registers exactly lmsi's search attributes", () => {
    expect(attributesIn(s['temporal-setup'].entrypoint.join('\n'))).toEqual(expectedAttributes);
  });

  test('a GPU for the accelerator worker, none for the light one; only flags lmsi worker has', () => {
    expect(s['lmsi-accelerator'].deploy.resources.reservations.devices).toEqual([
      { driver: 'nvidia', count: 1, capabilities: ['gpu'] },
    ]);
    expect(s['lmsi-light'].deploy).toBeUndefined();
    for (const name of ['lmsi-light', 'lmsi-accelerator']) {
      const w = s[name];
      expect(w.command[0]).toBe('worker');
      for (const f of flags(w.command)) expect([name, f, workerOptions.has(f)]).toEqual([name, f, true]);
      expect(w.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'lmsi' });
      // Credentials from the host's environment (.env), never written in the file.
      expect(w.environment.AWS_ACCESS_KEY_ID).toMatch(/^\$\{LMSI_S3_ACCESS_KEY/);
      expect(w.environment.AWS_SECRET_ACCESS_KEY).toMatch(/^\$\{LMSI_S3_SECRET_KEY/);
    }
    expect(s['lmsi-light'].command).toContain('--queues=light');
    expect(s['lmsi-accelerator'].command).toContain('--queues=accelerator');
  });

  test("the S3 server's identity file is JSON with placeholders, not keys", () => {
    const config = JSON.parse(read('s3.example.json')) as {
      identities: { credentials: { accessKey: string }[] }[];
    };
    expect(config.identities[0].credentials[0].accessKey).toMatch(/^REPLACE_WITH_/);
  });
});

describe('Kubernetes', () => {
  const docs = parseYamlDocuments('k8s/lmsi.yaml');
  const byName = new Map(docs.map((d) => [`${d.kind}/${d.metadata.name}`, d]));

  test('the namespace, the S3 secret, the workers config, the search-attribute job and both deployments', () => {
    expect([...byName.keys()].sort()).toEqual(
      [
        'ConfigMap/lmsi-workers',
        'Deployment/lmsi-accelerator',
        'Deployment/lmsi-light',
        'Job/lmsi-search-attributes',
        'Namespace/lmsi',
        'Secret/lmsi-s3',
      ].sort(),
    );
    expect(
      attributesIn(
        byName.get('Job/lmsi-search-attributes')!.spec.template.spec.containers[0].command.join('\n'),
      ),
    ).toEqual(expectedAttributes);
    // No credentials in the ConfigMap: they are the Secret's.
    expect(
      Object.keys(byName.get('ConfigMap/lmsi-workers')!.data).filter((k) => /SECRET|ACCESS_KEY/.test(k)),
    ).toEqual([]);
  });

  test('GPU requests on accelerator workers only; credentials from the Secret; only flags lmsi worker has', () => {
    for (const role of ['light', 'accelerator']) {
      const d = byName.get(`Deployment/lmsi-${role}`)!;
      const [c] = d.spec.template.spec.containers;
      expect(c.args[0]).toBe('worker');
      expect(c.args).toContain(`--queues=${role}`);
      for (const f of flags(c.args)) expect([role, f, workerOptions.has(f)]).toEqual([role, f, true]);
      expect(c.envFrom).toContainEqual({ secretRef: { name: 'lmsi-s3' } });
      expect(c.resources.limits?.['nvidia.com/gpu']).toBe(role === 'accelerator' ? 1 : undefined);
      expect(d.spec.selector.matchLabels).toEqual(d.spec.template.metadata.labels);
    }
  });

  test("Temporal's Helm values: PostgreSQL for both stores, no Elasticsearch, the namespace lmsi", () => {
    const v = parseYaml('k8s/temporal-values.yaml') as Record<string, any>;
    for (const store of ['default', 'visibility']) {
      expect(v.server.config.persistence[store].driver).toBe('sql');
      expect(v.server.config.persistence[store].sql.driver).toBe('postgres12');
      expect(v.server.config.persistence[store].sql.password).toBeUndefined();
    }
    expect(v.elasticsearch.enabled).toBe(false);
    expect(v.server.config.namespaces).toEqual({
      create: true,
      namespace: [{ name: 'lmsi', retention: '30d' }],
    });
  });
});

test("the image's entry point is the package's CLI", () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: { lmsi: string } };
  const dockerfile = read('Dockerfile');
  const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT (.*)$/gm)].map(
    (m) => JSON.parse(m[1]) as string[],
  );
  expect(entrypoints.length).toBe(2);
  for (const e of entrypoints) expect(e).toEqual(['node', `/lmsi/${pkg.bin.lmsi}`]);
  expect([...dockerfile.matchAll(/^FROM .* AS (\w+)$/gm)].map((m) => m[1])).toEqual(['build', 'cpu', 'cuda']);
});

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { interpolateAll, read, root, toMap } from './lib/compose.js';
import { SERVICES } from '../scripts/lib/services.js';

/**
 * Static checks of the `observability` compose profile: the collector, Jaeger
 * and Prometheus services in docker-compose.yml and their configs under
 * deploy/observability/. No Docker engine is needed: the files are parsed the
 * way Compose, the collector and Prometheus read them, every `${VAR:-default}`
 * at its default, and the alert rules are held to the metrics the code defines.
 */

const PROFILE = 'observability';
const OBSERVABILITY = ['otel-collector', 'jaeger', 'prometheus'] as const;
const IMAGES: Record<(typeof OBSERVABILITY)[number], string> = {
  'otel-collector': 'otel/opentelemetry-collector-contrib',
  jaeger: 'jaegertracing/all-in-one',
  prometheus: 'prom/prometheus',
};
/** The processes ARCHITECTURE.md lists; every one serves /metrics. */
const APP_PROCESSES = ['api', 'billing-webhook', 'notify', 'ai', 'worker'];
/** What the README and the compose header tell an operator to set. */
const DOCUMENTED_ENDPOINT = 'OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318';

// ---------------------------------------------------------------- compose --

type Env = Record<string, string>;
type Port = string | { target?: number | string; published?: string | number; host_ip?: string };
type Volume = string | { type?: string; source?: string; target?: string };

interface ComposeService {
  image?: string;
  command?: string | string[];
  environment?: Env | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: Port[];
  volumes?: Volume[];
  profiles?: string[];
}

type Compose = { services: Record<string, ComposeService> };
const composeText = read('docker-compose.yml');
const raw = parse(composeText, { merge: true }) as Compose;
const compose = interpolateAll(raw) as Compose;

function service(name: string, from: Compose = compose): ComposeService {
  const found = from.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

const envOf = (name: string, from: Compose = compose) => toMap(service(name, from).environment);

function dependsOn(name: string): string[] {
  const deps = service(name).depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

/** The port a process listens on inside its container, from its own port variable. */
function listenPort(name: string): number {
  const spec = SERVICES.find((s) => s.name === name);
  if (!spec) throw new Error(`scripts/lib/services.ts has no process "${name}"`);
  return Number(envOf(name)[spec.portVar]);
}

/** `[host_ip, published, target]` of a published port, short or long syntax. */
function portParts(port: Port): [string | undefined, string, string] {
  if (typeof port !== 'string') {
    return [port.host_ip, String(port.published ?? ''), String(port.target ?? '').split('/')[0]!];
  }
  const parts = port.split(':');
  const target = parts.at(-1)!.split('/')[0]!;
  if (parts.length === 3) return [parts[0], parts[1]!, target];
  if (parts.length === 2) return [undefined, parts[0]!, target];
  return [undefined, '', target];
}

/** Container path -> repository path, for the bind mounts of repository files. */
function mounts(name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const volume of service(name).volumes ?? []) {
    const [source, target] =
      typeof volume === 'string' ? volume.split(':') : [volume.source ?? '', volume.target ?? ''];
    if (source?.startsWith('./') && target) out.set(target, posix.normalize(source));
  }
  return out;
}

/** The value of `--flag=value` or `--flag value` in a service's command. */
function flag(name: string, option: string): string | undefined {
  const command = service(name).command;
  const args = Array.isArray(command) ? command : (command ?? '').split(/\s+/);
  for (const [i, arg] of args.entries()) {
    if (arg === option) return args[i + 1];
    if (arg.startsWith(`${option}=`)) return arg.slice(option.length + 1);
  }
  return undefined;
}

/** The repository file a service reads at `containerPath`; throws unless it is mounted and exists. */
function mountedFile(name: string, containerPath: string | undefined): string {
  if (!containerPath) throw new Error(`${name}: its command names no config file`);
  const file = mounts(name).get(containerPath);
  if (!file) throw new Error(`${name} does not mount a repository file at ${containerPath}`);
  if (!existsSync(join(root, file))) throw new Error(`${name} mounts ${file}, which does not exist`);
  return file;
}

describe('docker-compose.yml: the observability profile', () => {
  it.each(OBSERVABILITY)('%s starts only with --profile observability', (name) => {
    expect(service(name).profiles).toEqual([PROFILE]);
  });

  it('leaves every other service out of the profile, and no service waits for one of it', () => {
    for (const [name, other] of Object.entries(compose.services)) {
      if ((OBSERVABILITY as readonly string[]).includes(name)) continue;
      expect(other.profiles ?? [], name).not.toContain(PROFILE);
      // A plain `docker compose up` must not need a service that only the profile starts.
      for (const dep of dependsOn(name))
        expect(OBSERVABILITY, `${name} depends on ${dep}`).not.toContain(dep);
    }
  });

  it.each(OBSERVABILITY)('%s runs its image at a pinned version, never latest', (name) => {
    const image = service(name).image ?? '';
    const [repository, tag] = image.split(':');
    expect(repository).toBe(IMAGES[name]);
    expect(tag, image).toMatch(/^v?\d+\.\d+\.\d+$/);
  });

  it.each(OBSERVABILITY)('%s publishes ports on 127.0.0.1 only', (name) => {
    for (const port of service(name).ports ?? []) {
      const [hostIp, published] = portParts(port);
      expect(hostIp, `${name} ${JSON.stringify(port)}`).toBe('127.0.0.1');
      expect(Number(published), `${name} ${JSON.stringify(port)}`).toBeGreaterThan(0);
    }
  });

  it('publishes the Jaeger UI (16686) and Prometheus (9090), with Jaeger taking OTLP', () => {
    const targets = (name: string) => (service(name).ports ?? []).map((p) => portParts(p)[2]);
    expect(targets('jaeger')).toContain('16686');
    expect(targets('prometheus')).toContain('9090');
    expect(envOf('jaeger').COLLECTOR_OTLP_ENABLED).toBe('true');
  });

  it.each(APP_PROCESSES)(
    '%s takes OTEL_EXPORTER_OTLP_ENDPOINT from the shell, empty (no export) by default',
    (name) => {
      expect(envOf(name, raw).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('${OTEL_EXPORTER_OTLP_ENDPOINT:-}');
      expect(envOf(name).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('');
    },
  );

  it('documents the endpoint as the collector service and the port its receiver listens on', () => {
    const url = new URL(DOCUMENTED_ENDPOINT.split('=')[1]!);
    expect(Object.keys(compose.services)).toContain(url.hostname);
    expect(url.hostname).toBe('otel-collector');
    expect(collector.receivers?.otlp?.protocols?.http?.endpoint).toBe(`0.0.0.0:${url.port}`);
    expect(composeText).toContain(DOCUMENTED_ENDPOINT);
    expect(read('README.md')).toContain(`${DOCUMENTED_ENDPOINT} WORKER_HOST=0.0.0.0`);
  });

  it('lets the worker open its metrics port to the compose network, loopback by default', () => {
    expect(envOf('worker', raw).WORKER_HOST).toBe('${WORKER_HOST:-127.0.0.1}');
    expect(envOf('worker').WORKER_HOST).toBe('127.0.0.1');
    expect(service('worker').ports).toBeUndefined();
  });
});

// ---------------------------------------------------------- the collector --

interface CollectorConfig {
  receivers?: { otlp?: { protocols?: { http?: { endpoint?: string } | null } } };
  processors?: Record<string, unknown>;
  exporters?: Record<string, { endpoint?: string; tls?: { insecure?: boolean } } | null>;
  service?: {
    pipelines?: Record<string, { receivers?: string[]; processors?: string[]; exporters?: string[] }>;
  };
}

const collectorFile = mountedFile('otel-collector', flag('otel-collector', '--config'));
const collector = parse(read(collectorFile)) as CollectorConfig;

describe('deploy/observability/otel-collector.yaml', () => {
  it('is the file the collector service mounts where its --config points', () => {
    expect(collectorFile).toBe('deploy/observability/otel-collector.yaml');
  });

  it('receives OTLP over HTTP on every interface of its container, at port 4318', () => {
    // The receiver's own default is localhost, which no other container reaches.
    expect(collector.receivers?.otlp?.protocols?.http?.endpoint).toBe('0.0.0.0:4318');
    const published = (service('otel-collector').ports ?? []).map((p) => portParts(p)[2]);
    expect(published.every((target) => target === '4318')).toBe(true);
  });

  it('sends traces from the OTLP receiver to Jaeger over OTLP/gRPC', () => {
    const traces = collector.service?.pipelines?.traces;
    expect(traces?.receivers).toContain('otlp');
    for (const name of traces?.processors ?? []) expect(collector.processors, name).toHaveProperty([name]);
    const toJaeger = (traces?.exporters ?? []).filter((name) => {
      const type = name.split('/')[0];
      return (
        (type === 'otlp_grpc' || type === 'otlp') && collector.exporters?.[name]?.endpoint === 'jaeger:4317'
      );
    });
    expect(toJaeger).toHaveLength(1);
    expect(collector.exporters?.[toJaeger[0]!]?.tls?.insecure).toBe(true);
    for (const name of traces?.exporters ?? []) expect(collector.exporters, name).toHaveProperty([name]);
  });
});

// ----------------------------------------------------------- prometheus --

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  scheme?: string;
  honor_labels?: boolean;
  authorization?: { credentials_file?: string; credentials?: string };
  static_configs?: { targets?: string[] }[];
}

const prometheusFile = mountedFile('prometheus', flag('prometheus', '--config.file'));
const prometheus = parse(read(prometheusFile)) as { rule_files?: string[]; scrape_configs?: ScrapeConfig[] };
const scrapeConfigs = prometheus.scrape_configs ?? [];

describe('deploy/observability/prometheus.yml', () => {
  it('is the file the prometheus service mounts where --config.file points', () => {
    expect(prometheusFile).toBe('deploy/observability/prometheus.yml');
  });

  it('loads alerts.yml, mounted where rule_files points', () => {
    expect(prometheus.rule_files?.length).toBeGreaterThan(0);
    const files = (prometheus.rule_files ?? []).map((path) => mountedFile('prometheus', path));
    expect(files).toContain('deploy/observability/alerts.yml');
  });

  it.each(APP_PROCESSES)('scrapes %s at /metrics on the port compose gives it', (name) => {
    const target = `${name}:${listenPort(name)}`;
    const jobs = scrapeConfigs.filter((job) =>
      (job.static_configs ?? []).some((group) => group.targets?.includes(target)),
    );
    expect(jobs.map((job) => job.job_name)).toEqual([name]);
    expect(jobs[0]!.metrics_path ?? '/metrics').toBe('/metrics');
    expect(jobs[0]!.scheme ?? 'http').toBe('http');
  });

  it('scrapes nothing it does not know: every target is an application process', () => {
    const targets = scrapeConfigs.flatMap((job) =>
      (job.static_configs ?? []).flatMap((g) => g.targets ?? []),
    );
    expect(targets.sort()).toEqual(APP_PROCESSES.map((name) => `${name}:${listenPort(name)}`).sort());
  });

  it('keeps a `job` label the code gives its metrics, instead of renaming it exported_job', () => {
    // Prometheus's target label `job` wins over a scraped one unless the scrape honours labels.
    const jobLabelled = [...new Set(series.values())].filter((m) => m.labels.includes('job'));
    if (jobLabelled.length === 0) return;
    expect(scrapeConfigs.find((job) => job.job_name === 'worker')?.honor_labels).toBe(true);
    for (const metric of jobLabelled) expect(metric.labels, metric.name).not.toContain('instance');
  });

  it('sends a bearer token exactly when compose makes /metrics require one', () => {
    // http-app.ts: with METRICS_TOKEN, /metrics wants `Authorization: Bearer`; without it, it
    // answers callers that did not come through a proxy, which a direct scrape is.
    const tokened = APP_PROCESSES.filter((name) => envOf(name).METRICS_TOKEN);
    for (const job of scrapeConfigs) {
      if (tokened.includes(job.job_name)) expect(job.authorization, job.job_name).toBeDefined();
      else expect(job.authorization, job.job_name).toBeUndefined();
    }
  });
});

// -------------------------------------------------------------- alerts --

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const alerts = parse(read('deploy/observability/alerts.yml')) as {
  groups?: { name: string; rules?: Rule[] }[];
};
const rules = (alerts.groups ?? []).flatMap((group) => group.rules ?? []);

/** Every non-test TypeScript file under packages/<name>/src and services/<name>/src. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path);
      else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
        out.push(path);
    }
  };
  for (const top of ['packages', 'services']) {
    for (const entry of readdirSync(join(root, top), { withFileTypes: true })) {
      const src = join(root, top, entry.name, 'src');
      if (entry.isDirectory() && existsSync(src)) walk(src);
    }
  }
  return out;
}

const sources = sourceFiles().map((path) => readFileSync(path, 'utf8'));

interface Metric {
  type: string;
  name: string;
  labels: string[];
}

/**
 * The series names prom-client exposes for each metric the code constructs:
 * a histogram as `_bucket`, `_count` and `_sum`, a summary as itself plus
 * `_count` and `_sum`, counters and gauges under the name they are given.
 */
const series = new Map<string, Metric>();
for (const text of sources) {
  for (const match of text.matchAll(
    /new\s+(?:client\.)?(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\(\s*\{/g,
  )) {
    const end = text.indexOf('\n});', match.index);
    const block = text.slice(match.index, end === -1 ? undefined : end);
    const name = /\bname:\s*['"]([a-zA-Z_:][\w:]*)['"]/.exec(block)?.[1];
    if (!name) continue;
    const labelList = /\blabelNames:\s*\[([^\]]*)\]/.exec(block)?.[1] ?? '';
    const labels = [...labelList.matchAll(/['"]([a-zA-Z_]\w*)['"]/g)].map((m) => m[1]!);
    const metric: Metric = { type: match[1]!, name, labels };
    const suffixes =
      metric.type === 'Histogram'
        ? ['_bucket', '_count', '_sum']
        : metric.type === 'Summary'
          ? ['', '_count', '_sum']
          : [''];
    for (const suffix of suffixes) series.set(`${name}${suffix}`, metric);
  }
}

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric selectors of a PromQL expression and the labels it groups by.
 * Enough of PromQL for alert rules: strings, `{…}` matchers, `[…]` ranges,
 * numbers and durations, functions and aggregations (a name before `(`), and
 * the label lists of by/without/on/ignoring/group_left/group_right.
 */
function analyse(expr: string): { selectors: Selector[]; grouping: string[] } {
  const tokens = [
    ...expr.matchAll(
      /"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-z]*|[A-Za-z_:][\w:]*|\S/gi,
    ),
  ].map((m) => m[0]);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (!/^[A-Za-z_:]/.test(token)) continue;
    if (GROUPING.has(token)) {
      if (tokens[i + 1] !== '(') continue;
      for (i += 2; i < tokens.length && tokens[i] !== ')'; i++) {
        if (/^[A-Za-z_]/.test(tokens[i]!)) grouping.push(tokens[i]!);
      }
      continue;
    }
    // A function or aggregation: `rate(`, `sum(`, `sum by (…) (`.
    if (KEYWORDS.has(token.toLowerCase()) || tokens[i + 1] === '(' || GROUPING.has(tokens[i + 1] ?? ''))
      continue;
    const braces = tokens[i + 1]?.startsWith('{') ? tokens[i + 1]! : '';
    const matchers = [...braces.matchAll(/([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map(
      (m) => ({
        label: m[1]!,
        op: m[2]!,
        value: m[3]!,
      }),
    );
    selectors.push({ metric: token, matchers });
  }
  return { selectors, grouping };
}

/** Labels a series carries besides its metric's own: Prometheus's target labels, `le` on buckets. */
function labelsOf(name: string): string[] {
  const metric = series.get(name);
  return [...(metric?.labels ?? []), 'job', 'instance', ...(name.endsWith('_bucket') ? ['le'] : [])];
}

const quotedInSources = (value: string) =>
  sources.some((t) => t.includes(`'${value}'`) || t.includes(`"${value}"`));

describe('deploy/observability/alerts.yml', () => {
  it('finds the metric definitions it checks against', () => {
    // Guards the scan above: if it finds nothing, every check below would pass vacuously.
    for (const name of [
      'http_server_duration_seconds_bucket',
      'job_duration_seconds_count',
      'outbox_oldest_age_seconds',
    ]) {
      expect(series.has(name), name).toBe(true);
    }
  });

  it('has uniquely named rules', () => {
    expect(rules.length).toBeGreaterThan(0);
    const names = rules.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  describe.each(rules.map((rule) => [rule.alert ?? '(unnamed)', rule] as const))('%s', (_name, rule) => {
    const { selectors, grouping } = analyse(rule.expr ?? '');

    it('has an expression, a `for`, a severity, and a summary and description for the operator', () => {
      expect(rule.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(rule.expr?.trim()).toBeTruthy();
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(rule.labels?.severity).toMatch(/^(critical|warning)$/);
      expect(rule.annotations?.summary?.trim()).toBeTruthy();
      expect(rule.annotations?.description?.trim().length).toBeGreaterThan(80);
    });

    it('selects only metrics the code defines', () => {
      expect(selectors.length).toBeGreaterThan(0);
      for (const { metric } of selectors)
        expect(series.has(metric), `${metric} is not defined in the code`).toBe(true);
    });

    it('matches and groups by labels those metrics have, on values the code uses', () => {
      const known = new Set(selectors.flatMap(({ metric }) => labelsOf(metric)));
      for (const { metric, matchers } of selectors) {
        for (const { label, op, value } of matchers) {
          expect(labelsOf(metric), `${metric} has no label ${label}`).toContain(label);
          if (op !== '=' && op !== '=~') continue;
          for (const alternative of op === '=~' ? value.split('|') : [value]) {
            if (!/^[\w.-]+$/.test(alternative)) continue;
            expect(quotedInSources(alternative), `${label}="${alternative}" is not a value in the code`).toBe(
              true,
            );
          }
        }
      }
      for (const label of grouping) expect([...known], `grouped by ${label}`).toContain(label);
    });

    it('names in its annotations only labels its result keeps', () => {
      const text = Object.values(rule.annotations ?? {}).join('\n');
      for (const [, label] of text.matchAll(/\$labels\.([A-Za-z_]\w*)/g)) {
        expect(grouping, `$labels.${label}`).toContain(label);
      }
    });
  });

  it('covers the outbox, failed jobs, webhook signatures and HTTP latency', () => {
    const exprs = rules.map((rule) => rule.expr ?? '');
    const has = (pattern: RegExp) => exprs.some((expr) => pattern.test(expr));
    expect(has(/outbox_oldest_age_seconds\s*\)?\s*>\s*300\b/)).toBe(true);
    expect(has(/job_duration_seconds_count\{outcome="failed"\}/)).toBe(true);
    expect(has(/queue_jobs\{state="failed"\}/)).toBe(true);
    expect(has(/\bwebhooks_rejected_total\{reason=~"[^"]*mismatch/)).toBe(true);
    expect(has(/\bwhatsapp_webhooks_rejected_total\{reason=~"[^"]*bad_signature/)).toBe(true);
    expect(has(/histogram_quantile\(0\.99,.*http_server_duration_seconds_bucket/s)).toBe(true);
  });
});

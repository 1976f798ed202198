import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogFormat, type LoggerOptions } from './logger.js';

/** A destination that keeps what was written. */
function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** Secrets in every shape REDACT_PATHS covers, logged once. */
function logSecrets(options: LoggerOptions): string {
  const out = capture();
  const logger = createLogger('api', 'info', { ...options, destination: out.stream });
  logger.info(
    {
      password: 'hunter2-password',
      guardian: { phone: '+919812345678' },
      req: { headers: { authorization: 'Bearer eyJ-secret-token', 'user-agent': 'curl' } },
      request_id: 'req-1',
    },
    'guardian updated',
  );
  return out.text();
}

const SECRETS = ['hunter2-password', '+919812345678', 'eyJ-secret-token'];

describe('resolveLogFormat', () => {
  it.each([
    [{ LOG_FORMAT: 'json' as const, NODE_ENV: 'development' }, true, 'json'],
    [{ LOG_FORMAT: 'pretty' as const, NODE_ENV: 'production' }, false, 'pretty'],
    [{ NODE_ENV: 'production' }, true, 'json'],
    [{ NODE_ENV: 'development' }, true, 'pretty'],
    [{ NODE_ENV: 'development' }, false, 'json'],
    [{ NODE_ENV: 'test' }, false, 'json'],
    [{}, true, 'pretty'],
  ])('%o with a terminal: %s -> %s', (config, terminal, expected) => {
    expect(resolveLogFormat(config, terminal)).toBe(expected);
  });
});

describe('createLogger', () => {
  it('writes JSON lines with the service, an ISO time and the level label, secrets redacted', () => {
    const text = logSecrets({ format: 'json' });
    const line = JSON.parse(text.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({
      service: 'api',
      level: 'info',
      msg: 'guardian updated',
      password: '[redacted]',
      guardian: { phone: '[redacted]' },
      req: { headers: { authorization: '[redacted]', 'user-agent': 'curl' } },
    });
    expect(new Date(String(line.time)).toISOString()).toBe(line.time);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('still takes a bare destination stream and writes JSON to it', () => {
    const out = capture();
    createLogger('worker', 'info', out.stream).warn('plain');
    expect(JSON.parse(out.text())).toMatchObject({ service: 'worker', level: 'warn', msg: 'plain' });
  });

  it('writes readable lines in pretty mode, and redacts there too', () => {
    const text = logSecrets({ format: 'pretty', colorize: false });
    expect(() => JSON.parse(text)).toThrow();
    expect(text).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO \(api\): guardian updated$/m);
    expect(text).toContain('request_id: "req-1"');
    expect(text).toContain('[redacted]');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('has written every pretty line when the process exits', () => {
    // A service's last lines ("shutdown complete") come right before process.exit.
    const fixture = fileURLToPath(new URL('../../../tests/fixtures/pretty-exit.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', fixture, '5000'], {
      cwd: dirname(fixture),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.match(/INFO \(pretty-exit\): line \d+$/gm)).toHaveLength(5000);
    expect(result.stdout.trimEnd()).toMatch(/shutdown complete$/);
  });

  it.each(['exit', 'throw'])(
    'has written every JSON line, written asynchronously, when the process ends (%s)',
    (end) => {
      // JSON lines are buffered and written in batches; whatever is buffered is flushed on exit.
      const fixture = fileURLToPath(new URL('../../../tests/fixtures/pretty-exit.ts', import.meta.url));
      const result = spawnSync(process.execPath, ['--import', 'tsx', fixture, '20000', 'json', end], {
        cwd: dirname(fixture),
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(result.status, result.stderr).toBe(end === 'throw' ? 1 : 0);
      const lines = result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string });
      expect(lines).toHaveLength(20001);
      expect(lines.at(-1)!.msg).toBe('shutdown complete');
    },
  );
});

import { destination as pinoDestination, pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Paths whose values never reach a log line: credentials, tokens, signatures,
 * and phone numbers (guardians' personal data).
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'secret',
  '*.secret',
  'phone',
  '*.phone',
  '*.*.phone',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-razorpay-signature"]',
  'req.headers["stripe-signature"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
];

export type { Logger };

/** `json` for machines (production, log shippers); `pretty` for a person reading a terminal. */
export type LogFormat = 'pretty' | 'json';

/**
 * The format a process logs in: `LOG_FORMAT` when set; otherwise JSON in
 * production, and pretty in development when a person is reading (stdout is
 * a terminal; `pnpm start` sets `LOG_FORMAT=pretty` for the processes it runs,
 * whose stdout is its pipe). Anything else (tests, CI, a redirect to a file)
 * gets JSON, which tools can parse.
 */
export function resolveLogFormat(
  config: { LOG_FORMAT?: LogFormat | undefined; NODE_ENV?: string | undefined },
  stdoutIsTerminal: boolean = process.stdout.isTTY === true,
): LogFormat {
  if (config.LOG_FORMAT) return config.LOG_FORMAT;
  if (config.NODE_ENV === 'production') return 'json';
  return stdoutIsTerminal ? 'pretty' : 'json';
}

export interface LoggerOptions {
  /** Defaults to `json`. */
  format?: LogFormat;
  /** Where lines go; stdout when omitted. */
  destination?: DestinationStream;
  /** Colours in pretty mode; defaults to what the terminal (or FORCE_COLOR) supports. */
  colorize?: boolean;
}

/**
 * The process logger: pino with the service name, ISO timestamps, level
 * labels and every `REDACT_PATHS` value censored (in both formats: pino
 * redacts before the line reaches the pretty printer). The third argument
 * may still be a bare destination stream (JSON), as before there were options.
 */
export function createLogger(
  service: string,
  level: string,
  options: LoggerOptions | DestinationStream = {},
): Logger {
  const { format = 'json', destination, colorize } = isStream(options) ? { destination: options } : options;
  const stream =
    format === 'pretty'
      ? // Synchronous, in this thread (not a worker transport): every line is
        // written before process.exit, so the last lines of a shutdown are not lost.
        pretty({
          sync: true,
          destination: destination ?? 1,
          ...(colorize === undefined ? {} : { colorize }),
          translateTime: 'SYS:HH:MM:ss.l',
          // The name is printed already; pid and host say nothing on one machine.
          ignore: 'pid,hostname,service',
        })
      : (destination ??
        // Asynchronous: a line is appended to a buffer and written by whichever write is next, so
        // under load many lines share one write (a write per line cost a syscall per request).
        // pino flushes what is buffered synchronously when the process exits, however it exits
        // short of SIGKILL.
        pinoDestination({ dest: 1, sync: false }));
  return pino(
    {
      name: service,
      level,
      base: { service },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

function isStream(value: LoggerOptions | DestinationStream): value is DestinationStream {
  return typeof (value as Partial<DestinationStream>).write === 'function';
}

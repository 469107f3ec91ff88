import pino, { type Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object: no secret reaches a log line. */
export const REDACT_PATHS = [
  'password', '*.password', '*.*.password', 'sasl.password', 'kafka.sasl.password',
  'basicAuth', '*.basicAuth', 'schemaRegistry.basicAuth', 'authorization', '*.authorization', 'headers.authorization',
];

/**
 * JSON lines by default (what log shippers want); pretty only when a person is at the
 * terminal and pino-pretty is installed.
 */
export function createLogger(level: string, opts: { pretty?: boolean; destination?: pino.DestinationStream } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY && !process.env.CI);
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'streamscore' } };
  if (opts.destination) return pino(base, opts.destination);
  if (pretty) {
    try {
      return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } });
    } catch {
      // pino-pretty is a dev dependency; production images log JSON.
    }
  }
  return pino(base);
}

export type { Logger };

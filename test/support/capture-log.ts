import { Writable } from 'node:stream';
import pino from 'pino';

/** A debug-level logger whose every line is kept, to check what reached the log (and what did not). */
export function captureLog() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _e, done) { lines.push(chunk.toString()); done(); } }));
  return { logger, text: () => lines.join('') };
}

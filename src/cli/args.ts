import { type ParseArgsConfig, parseArgs } from 'node:util';
import { StreamscoreError } from '../errors.js';

/**
 * `--help` or `-h` (before any `--`): prints the command's usage to stdout and returns true;
 * the command then returns 0 at once. Looked for before parsing, so asking for help never
 * needs the command's other options, nor does anything else.
 */
export function helpAsked(args: readonly string[], usage: string): boolean {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  if (!own.some((a) => a === '--help' || a === '-h')) return false;
  process.stdout.write(usage);
  return true;
}

/** parseArgs; an unknown option, a missing value or a stray argument is a CLI_USAGE error (exit 2) followed by the usage. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    if (!String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw err;
    // Node's first sentence names the problem; the rest is advice about '--' that the usage covers.
    const problem = (err as Error).message.split('. ')[0];
    throw new StreamscoreError('CLI_USAGE', `${problem}\n${usage.trimEnd()}`);
  }
}

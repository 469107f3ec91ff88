import v8 from 'node:v8';

/** Measured with `npm run bench:profile -- --memory --built`: 15, 30 and 50 all gave ~205 MB peak RSS at full speed, V8's default ~300 MB. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Caps how far V8 lets the old generation grow past the live set before a full collection.
 * The live set at full speed is ~40 MB, but records held from fetch to commit survive young
 * collections, and by default V8 lets that promoted garbage pile up to ~160 MB first. The flag
 * is read each time V8 sets the next limit, so setting it at start applies; a value the user
 * gave on node's command line wins. Returns whether it set the flag.
 */
export function limitHeapGrowth(argv: readonly string[] = process.execArgv): boolean {
  if (argv.some((a) => a.startsWith('--heap-growing-percent'))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

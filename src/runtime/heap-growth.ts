import v8 from 'node:v8';

/** Measured with `npm run bench:profile -- --memory --built`: 15, 30 and 50 all gave ~205 MB peak RSS at full speed, V8's default ~300 MB. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Node's flags for `streamscore run` and `replay`, given on node's command line by every
 * launcher the project has (the image, the demo, the tests, the bench). Node 22+ sizes V8's
 * young generation from the host's memory (up to 64 MB semi-spaces on a 24 GiB machine, where
 * Node 20 used 16 MB): at full speed that took peak RSS from ~215 to ~300–325 MB with no
 * throughput gained (bench:profile on Node 24.21). V8 sizes it once at start, so unlike the
 * heap growth below it cannot be set from inside the process.
 */
export const NODE_MEMORY_FLAGS = ['--max-semi-space-size=16'] as const;

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

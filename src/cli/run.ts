import fs from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig, parseConfig } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { Service } from '../pipeline/service.js';
import { limitHeapGrowth } from '../runtime/heap-growth.js';
import { helpAsked, parseCommandArgs } from './args.js';

export const RUN_USAGE = `usage: streamscore run --config FILE

Runs the pipelines FILE names until SIGTERM or SIGINT, then scores and commits what was
fetched and exits 0 (a second signal: at once, 130). SIGHUP re-reads FILE and hot-swaps each
pipeline whose model section changed; anything else in it takes a restart.

options:
  -c, --config FILE   the config (YAML); check it first with: streamscore config validate FILE
  -h, --help          this text
`;

/**
 * `streamscore run --config FILE`. SIGTERM/SIGINT: stop fetching, score and commit what was
 * fetched, leave the group, exit 0. A second signal exits at once with 130; what was not
 * committed is read again by whoever owns the partitions next, so nothing is lost.
 */
export async function runCommand(args: string[]): Promise<number> {
  if (helpAsked(args, RUN_USAGE)) return 0;
  const { values } = parseCommandArgs({ args, options: { config: { type: 'string', short: 'c' } } }, RUN_USAGE);
  if (!values.config) {
    process.stderr.write(`streamscore run: --config FILE is required\n${RUN_USAGE}`);
    return 2;
  }
  const config = loadConfig(values.config);
  limitHeapGrowth();
  const logger = createLogger(config.log.level);
  const service = new Service({ config, logger, registry: new Registry() });
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'stopping: finishing what was fetched');
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    await service.start();
  } catch (err) {
    logger.error({ err }, 'start failed');
    await service.close();
    throw err;
  }
  process.on('SIGHUP', () => void reloadModels(values.config!, service, logger));
  logger.info({ pipelines: service.pipelines.map((p) => p.name) }, 'running');
  await stopped;
  await service.close();
  logger.info('stopped');
  return 0;
}

/** SIGHUP: the config file read again (without blocking) and its model sections applied. */
async function reloadModels(file: string, service: Service, logger: ReturnType<typeof createLogger>): Promise<void> {
  try {
    const next = parseConfig(await fs.readFile(file, 'utf8'), { baseDir: path.dirname(path.resolve(file)), source: file });
    const result = await service.applyModelSections(next);
    logger.info(result, 'SIGHUP: model sections applied');
  } catch (err) {
    // A config that no longer parses changes nothing: the service goes on as it was.
    logger.error({ err: errorMessage(err) }, 'SIGHUP: config not applied');
  }
}

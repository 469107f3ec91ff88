#!/usr/bin/env node
// First: kafkajs's read_committed filter and stable offset reads, installed before anything loads kafkajs.
import '../kafka/kafkajs-fixes.js';
import fs from 'node:fs';
import { errorMessage, isStreamscoreError } from '../errors.js';
import { configCommand } from './config.js';
import { demoCommand } from './demo.js';
import { devCommand } from './dev.js';
import { modelCommand } from './model.js';
import { produceCommand } from './produce.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { scoreCommand } from './score.js';
import { tailCommand } from './tail.js';

const usage = `usage: streamscore <command> [options]

commands:
  run --config FILE     run the pipelines a config file names
  config validate FILE  check a config, listing every problem; also: config print FILE, config schema
  model list|swap       a running service's model: list it, or hot-swap it (admin API)
  replay                rescore a pipeline's input range into a replay topic, exactly once (--from, --to, --model, --compare)
  score                 score a file of events (JSONL or Avro) with a pipeline's features and model, no Kafka
  produce               generate fraud or IoT events into a topic (--scenario, --rate, --count)
  tail TOPIC            print a topic's events readably (--json for machines)
  demo                  the whole thing end to end on the local stack (--events N, --keep, --json)
  dev up|down|status    the local Kafka broker and schema registry

streamscore <command> --help: that command's options. streamscore --version: the version.
`;

/** package.json sits two levels up from both src/cli and dist/cli. */
function version(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'replay':
      return replayCommand(rest);
    case 'score':
      return scoreCommand(rest);
    case 'model':
      return modelCommand(rest);
    case 'produce':
      return produceCommand(rest);
    case 'tail':
      return tailCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'dev':
      return devCommand(rest);
    case 'config':
      return configCommand(rest);
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // `run` has closed everything it opened; a socket a client library still holds must not
    // keep a stopped service alive.
    if (process.argv[2] === 'run') process.exit(code);
  },
  (err: unknown) => {
    const code = isStreamscoreError(err) ? `${err.code}: ` : '';
    process.stderr.write(`streamscore: ${code}${errorMessage(err)}\n`);
    process.exitCode = isStreamscoreError(err) && err.code === 'CLI_USAGE' ? 2 : 1;
  },
);

#!/usr/bin/env node
import { errorMessage, isStreamscoreError } from '../errors.js';
import { devCommand } from './dev.js';
import { runCommand } from './run.js';

const usage = `usage: streamscore <command> [options]

commands:
  run --config FILE     run the pipelines a config file names
  dev up|down|status    the local Kafka broker and schema registry
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'dev':
      return devCommand(rest);
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
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const code = isStreamscoreError(err) ? `${err.code}: ` : '';
    process.stderr.write(`streamscore: ${code}${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);

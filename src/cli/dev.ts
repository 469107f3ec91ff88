import { externalEndpoints, localEndpointLines, localStackEndpoints, stackDown, stackStatus, stackUp } from '../devstack/stack.js';
import { portAnswers } from '../devstack/kafka.js';
import { localPorts } from '../devstack/paths.js';
import { StreamscoreError } from '../errors.js';
import { helpAsked, parseCommandArgs } from './args.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

export const DEV_USAGE = `usage: streamscore dev up|down|status

The local Kafka broker and schema registry (KAFKA_BROKERS and SCHEMA_REGISTRY_URL both set:
that cluster is used and nothing is started).

  up       start them, or find them running; prints their addresses
  down     stop what dev up and demo --keep started
  status   what is running, by pid, and whether it answers (exit 3 unless both run);
           every listener's address, and the CA file
`;

export async function devCommand(args: string[]): Promise<number> {
  if (helpAsked(args, DEV_USAGE)) return 0;
  // No subcommand takes options or further arguments.
  const [sub, ...extra] = parseCommandArgs({ args, allowPositionals: true, options: {} }, DEV_USAGE).positionals;
  if (extra.length) throw new StreamscoreError('CLI_USAGE', `unexpected argument '${extra[0]}'\n${DEV_USAGE.trimEnd()}`);
  switch (sub) {
    case 'up': {
      const started = Date.now();
      const result = await stackUp(say);
      if (result.source === 'external') {
        say('KAFKA_BROKERS and SCHEMA_REGISTRY_URL are set: using that cluster, nothing started.');
      } else {
        const what = [result.startedKafka && 'kafka', result.startedRegistry && 'registry'].filter(Boolean);
        say(what.length ? `started ${what.join(' and ')} in ${((Date.now() - started) / 1000).toFixed(1)} s` : 'already running');
      }
      say(`KAFKA_BROKERS=${result.kafkaBrokers.join(',')}`);
      say(`SCHEMA_REGISTRY_URL=${result.schemaRegistryUrl}`);
      return 0;
    }
    case 'down': {
      const stopped = await stackDown();
      say(stopped.length ? `stopped ${stopped.join(' and ')}` : 'nothing of ours was running');
      return 0;
    }
    case 'status': {
      const external = externalEndpoints();
      if (external) {
        say(`external cluster: KAFKA_BROKERS=${external.kafkaBrokers.join(',')} SCHEMA_REGISTRY_URL=${external.schemaRegistryUrl}`);
        return 0;
      }
      const { kafkaPid, registryPid, demoPid } = stackStatus();
      const local = localStackEndpoints();
      const kafkaUp = await portAnswers(localPorts.kafka);
      const registryUp = (await fetch(`${local.schemaRegistryUrl}/subjects`).catch(() => undefined))?.ok ?? false;
      say(`kafka     ${kafkaPid ? `running (pid ${kafkaPid})` : 'stopped'}${kafkaUp ? `, answering on ${local.kafkaBrokers[0]}` : ''}`);
      say(`registry  ${registryPid ? `running (pid ${registryPid})` : 'stopped'}${registryUp ? `, answering on ${local.schemaRegistryUrl}` : ''}`);
      if (kafkaPid || registryPid) for (const line of await localEndpointLines()) say(line);
      if (demoPid) say(`streamscore (demo) running (pid ${demoPid}), metrics on http://127.0.0.1:9464/metrics`);
      return kafkaPid && registryPid ? 0 : 3;
    }
    default:
      process.stderr.write(DEV_USAGE);
      return 2;
  }
}


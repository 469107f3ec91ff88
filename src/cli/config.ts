import YAML from 'yaml';
import { ConfigError, loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { type SchemaNode, configFileSchemaText } from '../config/schema-file.js';
import type { StreamscoreConfig } from '../config/types.js';
import { StreamscoreError } from '../errors.js';
import { helpAsked, parseCommandArgs } from './args.js';

export const CONFIG_USAGE = `usage: streamscore config validate FILE...
       streamscore config print FILE
       streamscore config schema

  validate FILE...   load each FILE as run does and list every problem with its path (exit 1 if any)
  print FILE         the config run would use: defaults filled in, paths resolved, secrets as ***
  schema             the JSON Schema of the config file (schemas/streamscore-config.schema.json)

Values come from the environment as they would for run: \${VAR} placeholders, KAFKA_BROKERS,
SCHEMA_REGISTRY_URL, STREAMSCORE_LOG_LEVEL, STREAMSCORE_HTTP_PORT.
`;

export const REDACTED = '***';

/** A copy in which every value the schema marks writeOnly (the passwords) reads ***. */
export function redactSecrets(value: unknown, schema: SchemaNode | undefined): unknown {
  if (schema?.writeOnly) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, schema?.items));
  if (value && typeof value === 'object') {
    const other = typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v, schema?.properties?.[k] ?? other)]));
  }
  return value;
}

/** Loads FILE as `run` does; an invalid one gets its problems written to `out` and undefined back. */
function loadOrReport(file: string, out: NodeJS.WritableStream): StreamscoreConfig | undefined {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const count = `${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}`;
    out.write(`${file}: ${count}\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
    return undefined;
  }
}

/** `streamscore config validate|print|schema`: exit 0, 1 (a config is invalid) or 2 (usage). */
export async function configCommand(args: string[]): Promise<number> {
  if (helpAsked(args, CONFIG_USAGE)) return 0;
  const [sub, ...files] = parseCommandArgs({ args, allowPositionals: true, options: {} }, CONFIG_USAGE).positionals;
  const usageError = (problem: string) => new StreamscoreError('CLI_USAGE', `${problem}\n${CONFIG_USAGE.trimEnd()}`);
  switch (sub) {
    case 'validate': {
      if (!files.length) throw usageError('config validate needs a FILE');
      let valid = true;
      for (const file of files) {
        if (loadOrReport(file, process.stdout)) process.stdout.write(`${file}: ok\n`);
        else valid = false;
      }
      return valid ? 0 : 1;
    }
    case 'print': {
      if (files.length !== 1) throw usageError('config print needs one FILE');
      const file = files[0]!;
      // Problems on stderr: stdout is the YAML, perhaps redirected to a file.
      const config = loadOrReport(file, process.stderr);
      if (!config) return 1;
      const effective = YAML.stringify(redactSecrets(config, configSchema as SchemaNode));
      process.stdout.write(`# ${file} as run loads it: defaults filled in, paths resolved, secrets ${REDACTED}\n${effective}`);
      return 0;
    }
    case 'schema':
      if (files.length) throw usageError('config schema takes no FILE');
      process.stdout.write(configFileSchemaText());
      return 0;
    default:
      throw usageError(sub === undefined ? 'config needs a subcommand' : `unknown config subcommand '${sub}'`);
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONFIG_SCHEMA_PATH, configFileSchema, configFileSchemaText } from '../../src/config/schema-file.js';
import { repo } from '../support/paths.js';

/** Every YAML under deploy/ that is a streamscore config (not a Kubernetes, Prometheus or Grafana file). */
function deployConfigs(): string[] {
  const files = fs.readdirSync(repo('deploy'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
  return files.filter((f) => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(repo('deploy', f), 'utf8')).map((d) => d.toJS() as unknown);
    return docs.some((d) => d !== null && typeof d === 'object' && 'pipelines' in d && 'kafka' in d);
  }).sort();
}

describe('the exported config schema', () => {
  it(`${CONFIG_SCHEMA_PATH} is what the code exports now`, () => {
    const file = repo(CONFIG_SCHEMA_PATH);
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing)';
    expect(committed, `${CONFIG_SCHEMA_PATH} is stale: run \`npm run config:schema\` and commit it`).toBe(configFileSchemaText());
  });

  it('is a JSON Schema ajv accepts in strict mode', () => {
    expect(() => new Ajv({ strict: true, allErrors: true }).compile(configFileSchema())).not.toThrow();
  });

  it('accepts what the loader accepts before filling in: placeholders and the delivery shorthand', () => {
    const validate = new Ajv({ strict: true }).compile(configFileSchema());
    const doc = (delivery: unknown) => ({
      kafka: { brokers: ['${KAFKA_BROKERS:-kafka:9092}'] },
      schemaRegistry: { url: '${SCHEMA_REGISTRY_URL}' },
      pipelines: [{
        name: 'fraud', inputs: ['transactions'], groupId: 'g', model: { path: 'm.onnx' }, delivery,
        outputs: { scored: { topic: 's' }, alerts: { topic: 'a' }, deadLetter: { topic: 'd' } },
      }],
    });
    expect(validate(doc('at-least-once'))).toBe(true);
    expect(validate(doc({ mode: 'exactly-once', commitIntervalMs: 50 }))).toBe(true);
    expect(validate(doc('twice'))).toBe(false);
    expect(validate({ ...doc('exactly-once'), kafka: { brokers: ['no-port'] } })).toBe(false);
  });
});

describe('deploy/ configs name the schema for editors', () => {
  const configs = deployConfigs();
  const validate = new Ajv({ strict: true, allErrors: true }).compile(configFileSchema());

  it('finds the configs (the search really looks)', () => {
    expect(configs).toEqual(expect.arrayContaining(['demo.yaml', 'streamscore.yaml']));
  });

  for (const config of configs) {
    it(`deploy/${config} starts with the yaml-language-server line, and an editor finds no fault in it`, () => {
      const file = repo('deploy', config);
      const text = fs.readFileSync(file, 'utf8');
      const schemaPath = path.relative(path.dirname(file), repo(CONFIG_SCHEMA_PATH)).split(path.sep).join('/');
      expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${schemaPath}`);
      // As written, before placeholders are filled in: what the editor checks.
      const valid = validate(YAML.parse(text));
      expect(validate.errors ?? [], 'the schema flags lines that load fine').toEqual([]);
      expect(valid).toBe(true);
    });
  }
});

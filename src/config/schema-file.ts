import { configSchema } from './schema.js';

/** A JSON Schema node, loosely: enough to walk and rewrite one. */
export interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  pattern?: string;
  writeOnly?: boolean;
  [keyword: string]: unknown;
}

/** Where `npm run config:schema` writes it; the deploy configs name it in their first line. */
export const CONFIG_SCHEMA_PATH = 'schemas/streamscore-config.schema.json';

/** A `${VAR}`, `${VAR:-default}` or `${file:PATH}` placeholder, filled in only when the file is loaded. */
const PLACEHOLDER = '\\$\\{';

/** Lets a placeholder stand where a pattern would refuse it (brokers, registry URL, topics). */
function acceptPlaceholders(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(acceptPlaceholders);
  if (!node || typeof node !== 'object') return node;
  const copy: SchemaNode = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, acceptPlaceholders(v)]));
  if (typeof copy.pattern === 'string') copy.pattern = `(?:${copy.pattern})|${PLACEHOLDER}`;
  return copy;
}

/**
 * The config schema as an editor meets the file, before the loader has filled in
 * placeholders and expanded `delivery: MODE`: the schema in schema.ts describes the document
 * after both, so as it stands it would flag lines that load fine.
 */
export function configFileSchema(): SchemaNode {
  const body = acceptPlaceholders(configSchema) as SchemaNode;
  const pipeline = body.properties!.pipelines!.items!.properties!;
  const delivery = pipeline.delivery!;
  pipeline.delivery = {
    anyOf: [{ enum: delivery.properties!.mode!.enum, description: 'short for { mode: MODE }' }, delivery],
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'streamscore-config.schema.json',
    title: 'streamscore config',
    description:
      'The config file `streamscore run --config FILE` reads. String values may use ${VAR}, ${VAR:-default} and ${file:PATH}. ' +
      'Rules between fields (topics, groups, files that must exist) are checked by `streamscore config validate FILE`.',
    ...body,
  };
}

/** The file's exact text, so a committed copy can be compared byte for byte. */
export function configFileSchemaText(): string {
  return `${JSON.stringify(configFileSchema(), null, 2)}\n`;
}

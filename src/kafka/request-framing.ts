import { createRequire } from 'node:module';

/**
 * Request framing (size, api key, version, correlation id, client id) written once around the
 * encoded body, installed into kafkajs before it loads. kafkajs copies every request twice
 * through Encoders that start at 512 zeroed bytes and grow by doubling: for a 512 KiB produce
 * that is two more 1 MiB zero-filled buffers per request. kafkajs's connection reads only
 * `.buffer` of what this returns.
 */
const require = createRequire(import.meta.url);
const framingPath = require.resolve('kafkajs/src/protocol/request.js');

interface FramingArgs {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
}

export async function frameRequest({ correlationId, clientId, request }: FramingArgs): Promise<{ buffer: Buffer }> {
  const body = (await request.encode()).buffer;
  const clientIdLength = clientId == null ? 0 : Buffer.byteLength(clientId);
  const headerSize = 2 + 2 + 4 + 2 + clientIdLength;
  const buffer = Buffer.allocUnsafe(4 + headerSize + body.length);
  let at = buffer.writeInt32BE(headerSize + body.length, 0);
  at = buffer.writeInt16BE(request.apiKey, at);
  at = buffer.writeInt16BE(request.apiVersion, at);
  at = buffer.writeInt32BE(correlationId, at);
  at = buffer.writeInt16BE(clientId == null ? -1 : clientIdLength, at);
  if (clientId != null) at += buffer.write(clientId, at, 'utf8');
  body.copy(buffer, at);
  return { buffer };
}

/** kafkajs's own framing, for the test that compares bytes. */
export const kafkajsFrameRequest = require(framingPath) as (args: FramingArgs) => Promise<{ buffer: Buffer }>;

// kafkajs's connection requires this module when it loads, after this: it gets ours.
require.cache[framingPath]!.exports = frameRequest;

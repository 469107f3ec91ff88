import { describe, expect, it } from 'vitest';
import { externalEndpoints } from '../../src/devstack/stack.js';
import { StreamscoreError } from '../../src/errors.js';

describe('externalEndpoints', () => {
  it('uses nothing external when neither variable is set', () => {
    expect(externalEndpoints({})).toBeUndefined();
  });

  it('splits KAFKA_BROKERS and trims the registry URL', () => {
    expect(externalEndpoints({ KAFKA_BROKERS: 'a:9092, b:9092', SCHEMA_REGISTRY_URL: 'http://r:8081/' })).toEqual({
      kafkaBrokers: ['a:9092', 'b:9092'],
      schemaRegistryUrl: 'http://r:8081',
    });
  });

  it('refuses half an external stack with a coded error', () => {
    let caught: unknown;
    try {
      externalEndpoints({ KAFKA_BROKERS: 'a:9092' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StreamscoreError);
    expect((caught as StreamscoreError).code).toBe('DEV_PARTIAL_EXTERNAL_STACK');
  });
});

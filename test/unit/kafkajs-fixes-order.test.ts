import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repo } from '../support/paths.js';

describe('kafkajs fixes that must load before kafkajs', () => {
  // A fix imported after kafkajs's consumer group loaded left every exactly-once commit
  // refused (no group generation) and the service stalled: now the client refuses to start.
  it('a client refuses to start when kafkajs loaded its consumer group before the fixes', () => {
    const thrown = execFileSync(process.execPath, ['--import', 'tsx', repo('test/fixtures/scripts/consumer-group-loaded-first.ts')], { encoding: 'utf8' });
    expect(thrown).toMatch(/^KAFKA_READ_COMMITTED_UNSAFE: kafkajs loaded its consumer group before/);
  });
});

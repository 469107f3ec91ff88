import { describe, expect, it } from 'vitest';
import { createTopics, kafkaForSuite, uniqueName } from '../support/kafka.js';

/**
 * kafkajs sleeps its whole fetch wait when every partition is paused, and a resume did not
 * cut that short (src/kafka/resume-wakes-fetch.ts). With a 10 s fetch wait, a record
 * waiting on a resumed partition came after ~10 s; now it comes with the next fetch.
 */
describe('resuming a paused consumer fetches at once, not after the fetch wait', () => {
  const { kafka, admin } = kafkaForSuite();
  const FETCH_WAIT_MS = 10_000;

  it('a record on a resumed partition arrives well before the fetch wait would have ended', async () => {
    const topic = uniqueName('resume');
    await createTopics(admin, [topic]);
    const producer = kafka.producer();
    await producer.connect();
    const consumer = kafka.consumer({ groupId: uniqueName('resume-g'), maxWaitTimeInMs: FETCH_WAIT_MS });
    const received: string[] = [];
    let arrived: (() => void) | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await producer.send({ topic, messages: [{ value: 'first' }] });
      const first = new Promise<void>((r) => { arrived = r; });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(String(message.value));
          arrived?.();
        },
      });
      await first;
      consumer.pause([{ topic }]);
      // The fetch after the pause finds nothing active: that is the one a resume must wake.
      await new Promise<void>((r) => {
        const off = consumer.on(consumer.events.FETCH_START, () => { off(); r(); });
      });
      await producer.send({ topic, messages: [{ value: 'second' }] });
      const second = new Promise<void>((r) => { arrived = r; });
      const resumedAt = Date.now();
      consumer.resume([{ topic }]);
      await second;
      expect(received).toEqual(['first', 'second']);
      expect(Date.now() - resumedAt).toBeLessThan(FETCH_WAIT_MS / 2);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });
});

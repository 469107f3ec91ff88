import type { DecodeResult, InputCodec } from '../codec/codec.js';
import { type StreamscoreError, asStreamscoreError } from '../errors.js';
import type { ConsumedRecord, TopicPartition } from '../kafka/records.js';
import type { FetchedBatch } from '../kafka/source.js';
import type { Timers } from '../observability/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Backoff } from '../util/backoff.js';

export interface RetryingDecoderOptions {
  codec: InputCodec;
  pipeline: string;
  metrics: Metrics;
  timers: Timers;
  logger: Logger;
  /** Reads the partition again from `offset`. */
  seek: (tp: TopicPartition, offset: bigint) => void;
  /** Reports trouble (unready, with the code) or clears it (`undefined`). */
  report: (tp: TopicPartition, err: StreamscoreError | undefined) => void;
}

/**
 * Decodes a fetched batch. A fault of the codec's own (the registry unreachable, or refusing
 * our credentials) is nothing the records did, so nothing is dead-lettered for it: the
 * partition backs off and reads them again, and the trouble is reported once the retry
 * budget is spent (at once when retrying cannot fix it: every try is still a metric).
 */
export class RetryingDecoder {
  constructor(private readonly o: RetryingDecoderOptions) {}

  async decode(tp: TopicPartition, backoff: Backoff, records: ConsumedRecord[], fetched: FetchedBatch): Promise<DecodeResult[] | undefined> {
    try {
      const decoded = await this.o.codec.decodeBatch(records);
      if (backoff.failures) {
        backoff.reset();
        this.o.report(tp, undefined);
      }
      return decoded;
    } catch (err) {
      const coded = asStreamscoreError(err);
      const delayMs = backoff.fail();
      this.o.metrics.retries.inc({ pipeline: this.o.pipeline, code: coded.code });
      if (backoff.justExhausted || (!coded.canRetry && backoff.failures === 1)) {
        this.o.logger.error({ code: coded.code, err: coded.message, topic: tp.topic, partition: tp.partition, failures: backoff.failures }, 'decoding is failing; the partition waits and tries again');
        this.o.report(tp, coded);
      }
      this.o.seek(tp, records[0]!.offset);
      await fetched.heartbeatDuring(new Promise((r) => this.o.timers.setTimeout(() => r(undefined), delayMs)));
      return undefined;
    }
  }
}

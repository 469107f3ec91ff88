import { setTimeout as delay } from 'node:timers/promises';
import type { PipelineConfig } from '../config/types.js';
import { asStreamscoreError } from '../errors.js';
import type { ConsumedRecord, OutgoingRecord, TopicPartition } from '../kafka/records.js';
import { partitionKey } from '../kafka/records.js';
import type { Logger } from '../observability/logger.js';
import type { ScoringTarget, WorkItem } from '../pipeline/batch-scorer.js';
import type { Scoring } from '../pipeline/scoring.js';
import { Backoff, DEFAULT_RETRY } from '../util/backoff.js';

/** The header every record a replay writes carries: scored events and dead letters alike. */
export const REPLAY_ID_HEADER = 'replay-id';

/** What one partition's records became. */
export interface ScoredRecords {
  records: OutgoingRecord[];
  scored: number;
  deadLettered: number;
  /** Scored records at or above the threshold: alerts the live pipeline would have raised (none is written). */
  alerts: number;
}

/**
 * The live pipeline's decode → features → batch → inference path (prepareScoring's codec
 * and BatchScorer), run over a replay's records: batches of at most maxBatchSize rows, in
 * input order. Alert records are dropped (a replay must not alert on old events; each
 * scored record carries `alert`); every record written gets the replay-id header.
 */
export class ReplayScorer {
  /** BatchScorer groups its output by the live pipeline's per-partition sink; a replay has none, so one stand-in per partition carries the partition. */
  readonly #slots = new Map<string, ScoringTarget>();

  constructor(
    private readonly scoring: Scoring,
    private readonly cfg: PipelineConfig,
    private readonly replayId: string,
    private readonly log: Logger,
  ) {}

  async score(tp: TopicPartition, inputs: readonly ConsumedRecord[]): Promise<ScoredRecords> {
    const out: ScoredRecords = { records: [], scored: 0, deadLettered: 0, alerts: 0 };
    if (!inputs.length) return out;
    const decoded = await this.#decode(tp, inputs);
    const slot = this.#slot(tp);
    const items: WorkItem[] = inputs.map((input, i) => {
      const d = decoded[i]!;
      return d.ok ? { sink: slot, generation: 0, input, record: d.record } : { sink: slot, generation: 0, input, error: d.error };
    });
    const { outputs, batching } = this.cfg;
    for (let i = 0; i < items.length; i += batching.maxBatchSize) {
      const chunks = await this.scoring.scorer.score(items.slice(i, i + batching.maxBatchSize), 0);
      for (const chunk of chunks.values()) {
        for (const r of chunk.records) {
          if (r.topic === outputs.alerts.topic) {
            out.alerts++;
            continue;
          }
          if (r.topic === outputs.deadLetter.topic) out.deadLettered++;
          else out.scored++;
          out.records.push({ ...r, headers: { ...r.headers, [REPLAY_ID_HEADER]: this.replayId } });
        }
      }
    }
    return out;
  }

  /** A registry that is away is not the records' fault: wait and try again, as the live pipeline does, then give up. */
  async #decode(tp: TopicPartition, inputs: readonly ConsumedRecord[]) {
    const backoff = new Backoff(DEFAULT_RETRY);
    for (;;) {
      try {
        return await this.scoring.codec.decodeBatch(inputs);
      } catch (err) {
        const coded = asStreamscoreError(err);
        const wait = backoff.fail();
        if (!coded.canRetry || backoff.exhausted) throw coded;
        this.log.warn({ code: coded.code, err: coded.message, topic: tp.topic, partition: tp.partition }, 'decoding failed; trying again');
        await delay(wait);
      }
    }
  }

  #slot(tp: TopicPartition): ScoringTarget {
    const key = partitionKey(tp);
    let slot = this.#slots.get(key);
    if (!slot) this.#slots.set(key, (slot = { tp, generation: 0 }));
    return slot;
  }
}

/**
 * The dynamic batching decision, as a pure function (Triton's dynamic batcher, reduced):
 * dispatch a full batch at once; dispatch the largest preferred size the queue has reached;
 * dispatch whatever is queued once the oldest record has waited maxQueueDelayMs; otherwise
 * wait until that moment.
 */
export interface BatchPolicy {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Ascending; each at most maxBatchSize. */
  preferredBatchSizes: readonly number[];
}

export interface QueueState {
  queued: number;
  /** When the oldest queued record was enqueued (undefined when the queue is empty). */
  oldestEnqueuedAtMs: number | undefined;
  nowMs: number;
  /** Batches being run now, and how many may run at once. */
  inFlight: number;
  maxInFlight: number;
  /** Shutting down: dispatch what is queued without waiting. */
  flushing: boolean;
}

export type BatchDecision = { kind: 'dispatch'; size: number } | { kind: 'wait'; ms: number } | { kind: 'idle' };

export function decideBatch(state: QueueState, policy: BatchPolicy): BatchDecision {
  if (state.queued === 0 || state.inFlight >= state.maxInFlight) return { kind: 'idle' };
  if (state.queued >= policy.maxBatchSize) return { kind: 'dispatch', size: policy.maxBatchSize };
  const waitedMs = state.nowMs - (state.oldestEnqueuedAtMs ?? state.nowMs);
  if (state.flushing || waitedMs >= policy.maxQueueDelayMs) return { kind: 'dispatch', size: state.queued };
  for (let i = policy.preferredBatchSizes.length - 1; i >= 0; i--) {
    const preferred = policy.preferredBatchSizes[i]!;
    if (state.queued >= preferred) return { kind: 'dispatch', size: preferred };
  }
  return { kind: 'wait', ms: policy.maxQueueDelayMs - waitedMs };
}

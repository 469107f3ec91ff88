import { setTimeout as delay } from 'node:timers/promises';

/** Waits before each further try: ~0.5 s in all, far past the few ms a coordinator takes to write its markers. */
const RETRY_DELAYS_MS = [2, 4, 8, 16, 32, 64, 128, 256];

const isConcurrentTransactions = (err: unknown) => (err as { type?: unknown } | null)?.type === 'CONCURRENT_TRANSACTIONS';

/**
 * Right after a transaction ends, its coordinator is still writing the markers and answers the
 * next transaction's first request with CONCURRENT_TRANSACTIONS for a few ms. kafkajs retries
 * that for AddPartitionsToTxn (inside its produce retrier) but not for AddOffsetsToTxn, so a
 * transaction that began by storing offsets failed whole, and the service replaced its
 * producer and read its partitions again. The Java client retries it after a short backoff;
 * so does this. Storing offsets again is harmless: AddOffsetsToTxn for a group already in the
 * transaction changes nothing, and TxnOffsetCommit writes the same offsets.
 */
export async function waitingOutConcurrentTransactions<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const wait = RETRY_DELAYS_MS[attempt];
      if (!isConcurrentTransactions(err) || wait === undefined) throw err;
      await delay(wait);
    }
  }
}

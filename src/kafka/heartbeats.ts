/**
 * kafkajs heartbeats only between batches or when told to; while one batch waits on
 * something slow (a producer fencing its predecessor), this keeps the membership alive.
 */
export async function withHeartbeats<T>(work: Promise<T>, heartbeat: () => Promise<void>, intervalMs: number): Promise<T> {
  const timer = setInterval(() => { heartbeat().catch(() => {}); }, intervalMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

import { createRequire } from 'node:module';
import { waitingOutConcurrentTransactions } from './concurrent-transactions.js';

/**
 * A transaction's registration requests, sent while it collects records rather than when it
 * commits. kafkajs registers the output partitions (AddPartitionsToTxn) inside the produce and
 * the group's offsets (AddOffsetsToTxn) inside sendOffsets, so an exactly-once commit is five
 * sequential requests. Here a transaction registers, as soon as it begins, the partitions the
 * last committed one wrote to (under steady load, the ones this one writes to) and the group;
 * kafkajs then skips what is already registered and the commit is TxnOffsetCommit, Produce and
 * EndTxn. A partition registered and not written gets an empty commit marker, nothing more.
 * Installed into kafkajs's producer before it loads (kafkajs-fixes.ts).
 */
const require = createRequire(import.meta.url);
const eosManagerPath = require.resolve('kafkajs/src/producer/eosManager/index.js');
const { TRANSACTION } = require('kafkajs/src/protocol/coordinatorTypes.js') as { TRANSACTION: number };

export interface TopicData {
  topic: string;
  partitions: { partition: number }[];
}

interface CoordinatorBroker {
  addOffsetsToTxn(args: { transactionalId: string; producerId: number; producerEpoch: number; groupId: string }): Promise<unknown>;
}

interface Cluster {
  findGroupCoordinator(args: { groupId: string; coordinatorType: number }): Promise<CoordinatorBroker>;
}

interface EosManager {
  getProducerId(): number;
  getProducerEpoch(): number;
  beginTransaction(): void;
  addPartitionsToTransaction(topicData: TopicData[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

interface EosOptions {
  cluster: Cluster;
  transactional?: boolean;
  transactionalId?: string;
}

/** What one producer's transaction has registered, and what the last committed one wrote to. */
class Registrations {
  partitions = new Map<string, Set<number>>();
  offsetsGroup: string | undefined;
  lastCommitted: TopicData[] = [];

  add(topicData: readonly TopicData[]): void {
    for (const { topic, partitions } of topicData) {
      let set = this.partitions.get(topic);
      if (!set) this.partitions.set(topic, (set = new Set()));
      for (const { partition } of partitions) set.add(partition);
    }
  }

  ended(committed: boolean): void {
    if (committed) this.lastCommitted = [...this.partitions].map(([topic, set]) => ({ topic, partitions: [...set].map((partition) => ({ partition })) }));
    this.partitions = new Map();
    this.offsetsGroup = undefined;
  }
}

interface LiveProducer {
  manager: EosManager;
  cluster: Cluster;
  registrations: Registrations;
}

/** The newest transactional producer of each transactional id (a new one fences the older). */
const live = new Map<string, LiveProducer>();

const createEosManager = require(eosManagerPath) as (o: EosOptions) => EosManager;

function registeringEosManager(o: EosOptions): EosManager {
  if (!o.transactional || !o.transactionalId) return createEosManager(o);
  const registrations = new Registrations();
  // kafkajs's own AddOffsetsToTxn is skipped when the group is already in the transaction.
  const skippingRegisteredOffsets = (broker: CoordinatorBroker) => overriding(broker, 'addOffsetsToTxn', (a) => (registrations.offsetsGroup === a.groupId ? Promise.resolve() : broker.addOffsetsToTxn(a)));
  const cluster = overriding(o.cluster, 'findGroupCoordinator', async (args) => {
    const broker = await o.cluster.findGroupCoordinator(args);
    return args.coordinatorType === TRANSACTION ? skippingRegisteredOffsets(broker) : broker;
  });
  const manager = createEosManager({ ...o, cluster });
  const { beginTransaction, addPartitionsToTransaction, commit, abort } = manager;
  manager.beginTransaction = () => {
    registrations.ended(false);
    beginTransaction();
  };
  manager.addPartitionsToTransaction = async (topicData) => {
    await addPartitionsToTransaction(topicData);
    registrations.add(topicData);
  };
  manager.commit = async () => {
    await commit();
    registrations.ended(true);
  };
  manager.abort = async () => {
    try {
      await abort();
    } finally {
      registrations.ended(false);
    }
  };
  live.set(o.transactionalId, { manager, cluster: o.cluster, registrations });
  return manager;
}

/** `target` with one method replaced; every other member read from it, its methods bound to it (kafkajs's are class methods). */
function overriding<T extends object, K extends keyof T>(target: T, name: K, replacement: T[K]): T {
  return new Proxy(target, {
    get: (t, key) => {
      if (key === name) return replacement;
      const value: unknown = Reflect.get(t, key, t);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

require.cache[eosManagerPath]!.exports = registeringEosManager;

/**
 * Registers, in the transaction `transactionalId` has open, the partitions its last committed
 * transaction wrote to, then `groupId`'s offsets: in sequence, since the coordinator answers
 * two registrations at once with CONCURRENT_TRANSACTIONS. Commit and abort must wait for it.
 */
export async function registerEarly(transactionalId: string, groupId: string): Promise<void> {
  const producer = live.get(transactionalId);
  // Not installed (kafkajs's producer loaded first): kafkajs registers at commit, as it would anyway.
  if (!producer) return;
  const { manager, cluster, registrations } = producer;
  if (registrations.lastCommitted.length) await waitingOutConcurrentTransactions(() => manager.addPartitionsToTransaction(registrations.lastCommitted));
  const coordinator = await cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: TRANSACTION });
  await waitingOutConcurrentTransactions(() => coordinator.addOffsetsToTxn({ transactionalId, producerId: manager.getProducerId(), producerEpoch: manager.getProducerEpoch(), groupId }));
  registrations.offsetsGroup = groupId;
}

/** Drops a closed output's producer. */
export function forgetTransactionalId(transactionalId: string): void {
  live.delete(transactionalId);
}

/** For a test: what the open transaction of `transactionalId` has registered. */
export function registeredPartitions(transactionalId: string): Map<string, Set<number>> | undefined {
  return live.get(transactionalId)?.registrations.partitions;
}

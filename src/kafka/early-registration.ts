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
  endTxn(args: { transactionalId: string; producerId: number; producerEpoch: number; transactionResult: boolean }): Promise<unknown>;
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

/** One producer's open transaction: what kafkajs's sends wrote to, and what was registered early. */
class Registrations {
  /** Counts transactions begun, so a registration that outlives its transaction changes nothing. */
  transaction = 0;
  /** Partitions kafkajs's own sends registered (the ones written), not the early ones. */
  written = new Map<string, Set<number>>();
  early: TopicData[] = [];
  offsetsGroup: string | undefined;
  /** kafkajs sent the offsets itself (its own flag, which decides whether it sends EndTxn, is then set). */
  kafkajsSentOffsets = false;
  lastCommitted: TopicData[] = [];

  wrote(topicData: readonly TopicData[]): void {
    for (const { topic, partitions } of topicData) {
      let set = this.written.get(topic);
      if (!set) this.written.set(topic, (set = new Set()));
      for (const { partition } of partitions) set.add(partition);
    }
  }

  /**
   * kafkajs sends EndTxn only when it registered a partition or sent offsets itself: a
   * transaction holding only the early AddOffsetsToTxn would be left open on the broker.
   */
  get kafkajsWouldSkipEndTxn(): boolean {
    return this.offsetsGroup !== undefined && !this.kafkajsSentOffsets && this.early.length === 0 && this.written.size === 0;
  }

  begun(): void {
    this.transaction++;
    this.written = new Map();
    this.early = [];
    this.offsetsGroup = undefined;
    this.kafkajsSentOffsets = false;
  }

  ended(committed: boolean): void {
    if (committed) this.lastCommitted = [...this.written].map(([topic, set]) => ({ topic, partitions: [...set].map((partition) => ({ partition })) }));
    this.begun();
  }
}

interface LiveProducer {
  manager: EosManager;
  /** kafkajs's own registration, without the record of what was written. */
  addPartitions: (topicData: TopicData[]) => Promise<void>;
  cluster: Cluster;
  registrations: Registrations;
}

/** The newest transactional producer of each transactional id (a new one fences the older). */
const live = new Map<string, LiveProducer>();

const createEosManager = require(eosManagerPath) as (o: EosOptions) => EosManager;

function registeringEosManager(o: EosOptions): EosManager {
  if (!o.transactional || !o.transactionalId) return createEosManager(o);
  const transactionalId = o.transactionalId;
  const registrations = new Registrations();
  // kafkajs's own AddOffsetsToTxn is skipped when the group is already in the transaction.
  const skippingRegisteredOffsets = (broker: CoordinatorBroker) => overriding(broker, 'addOffsetsToTxn', (a) => {
    registrations.kafkajsSentOffsets = true;
    return registrations.offsetsGroup === a.groupId ? Promise.resolve() : broker.addOffsetsToTxn(a);
  });
  const cluster = overriding(o.cluster, 'findGroupCoordinator', async (args) => {
    const broker = await o.cluster.findGroupCoordinator(args);
    return args.coordinatorType === TRANSACTION ? skippingRegisteredOffsets(broker) : broker;
  });
  const manager = createEosManager({ ...o, cluster });
  const { beginTransaction, addPartitionsToTransaction, commit, abort } = manager;
  const endTxnKafkajsSkips = async (transactionResult: boolean) => {
    if (!registrations.kafkajsWouldSkipEndTxn) return;
    const coordinator = await o.cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: TRANSACTION });
    await coordinator.endTxn({ transactionalId, producerId: manager.getProducerId(), producerEpoch: manager.getProducerEpoch(), transactionResult });
  };
  manager.beginTransaction = () => {
    beginTransaction();
    registrations.begun();
  };
  manager.addPartitionsToTransaction = async (topicData) => {
    await addPartitionsToTransaction(topicData);
    registrations.wrote(topicData);
  };
  manager.commit = async () => {
    await endTxnKafkajsSkips(true);
    await commit();
    registrations.ended(true);
  };
  manager.abort = async () => {
    try {
      await endTxnKafkajsSkips(false);
      await abort();
    } finally {
      registrations.ended(false);
    }
  };
  live.set(transactionalId, { manager, addPartitions: addPartitionsToTransaction, cluster: o.cluster, registrations });
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
  const { manager, addPartitions, cluster, registrations } = producer;
  const transaction = registrations.transaction;
  const partitions = registrations.lastCommitted;
  if (partitions.length) {
    await waitingOutConcurrentTransactions(() => addPartitions(partitions));
    if (registrations.transaction === transaction) registrations.early = partitions;
  }
  const coordinator = await cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: TRANSACTION });
  await waitingOutConcurrentTransactions(() => coordinator.addOffsetsToTxn({ transactionalId, producerId: manager.getProducerId(), producerEpoch: manager.getProducerEpoch(), groupId }));
  if (registrations.transaction === transaction) registrations.offsetsGroup = groupId;
}

/** Drops a closed output's producer. */
export function forgetTransactionalId(transactionalId: string): void {
  live.delete(transactionalId);
}

/** For a test: the partitions registered early in the open transaction of `transactionalId`. */
export function registeredEarly(transactionalId: string): TopicData[] | undefined {
  return live.get(transactionalId)?.registrations.early;
}

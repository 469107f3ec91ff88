import { transactionGenerator } from './fraud.js';
import { readingGenerator } from './iot.js';

export type ScenarioName = 'fraud' | 'iot';

export interface Scenario {
  name: ScenarioName;
  /** Input schema (schemas/) and the field that keys the Kafka message. */
  schemaFile: string;
  keyField: string;
  /** A stream of events with their ground truth (fraud / anomalous) and a run-unique id. */
  generator(seed: number, idPrefix: string): (nowMs: number) => { event: Record<string, unknown>; positive: boolean; id: string };
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  fraud: {
    name: 'fraud',
    schemaFile: 'schemas/card-transaction.avsc',
    keyField: 'cardId',
    generator: (seed, idPrefix) => {
      const next = transactionGenerator(seed, 0.02, idPrefix);
      return (now) => {
        const { event, fraud } = next(now);
        return { event: event as unknown as Record<string, unknown>, positive: fraud, id: event.transactionId };
      };
    },
  },
  iot: {
    name: 'iot',
    schemaFile: 'schemas/sensor-reading.avsc',
    keyField: 'deviceId',
    generator: (seed, idPrefix) => {
      const next = readingGenerator(seed, 0.03);
      let i = 0;
      return (now) => {
        const { event, anomalous } = next(now);
        return { event: event as unknown as Record<string, unknown>, positive: anomalous, id: `${idPrefix}-${i++}` };
      };
    },
  },
};

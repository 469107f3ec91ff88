import { Random } from './random.js';

/**
 * Pump sensor readings as in the anomaly model's training data (models/datagen.py): a hidden
 * load drives every channel; anomalies are drifts, spikes and stuck sensors.
 */
export interface SensorReading {
  deviceId: string;
  site: string;
  eventTime: number;
  temperatureC: number;
  vibrationMmS: number;
  pressureKpa: number;
  currentA: number;
  firmware: string;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export function readingGenerator(seed: number, anomalyRate = 0.03) {
  const rng = new Random(seed);
  return (nowMs: number): { event: SensorReading; anomalous: boolean } => {
    const load = Math.min(1, Math.max(0.05, rng.beta(4, 2.5)));
    let temperature = rng.normal(22, 3) + 28 * load + rng.normal(0, 1.2);
    let vibration = 1.2 + 3 * load + rng.gamma(2, 0.15);
    let pressure = 180 + 420 * load + rng.normal(0, 12);
    let current = 8 + 34 * load + rng.normal(0, 0.9);
    const anomalous = rng.chance(anomalyRate);
    if (anomalous) {
      const kind = rng.pick([0, 1, 2], [0.35, 0.35, 0.3]);
      if (kind === 0) temperature += rng.uniform(9, 25); // drift
      else if (kind === 1) vibration *= rng.uniform(2.5, 6); // spike
      else { // stuck sensor
        const which = rng.int(0, 3);
        if (which === 0) pressure = rng.pick([0, 1013]);
        else if (which === 1) current = 0;
        else temperature = rng.pick([-40, 150]);
      }
    }
    const device = rng.int(0, 200);
    return {
      anomalous,
      event: {
        deviceId: `pump-${String(device).padStart(3, '0')}`,
        site: `plant-${device % 5}`,
        eventTime: nowMs,
        temperatureC: round(temperature, 3),
        vibrationMmS: round(vibration, 4),
        pressureKpa: round(pressure, 2),
        currentA: round(current, 3),
        firmware: '2.4.1',
      },
    };
  };
}

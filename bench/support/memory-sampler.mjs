// Preloaded into the service by `npm run bench:profile -- --memory`: samples the process's own
// memory every 200 ms and, on exit, writes the peaks and the CPU time it used to $STREAMSCORE_MEMORY_OUT.
import fs from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';

const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
setInterval(() => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
}, 200).unref();
process.on('exit', () => {
  const cpu = process.cpuUsage();
  const mb = Object.fromEntries(Object.entries(peak).map(([k, v]) => [`${k}Mb`, Math.round(v / 2 ** 20)]));
  fs.writeFileSync(process.env.STREAMSCORE_MEMORY_OUT, JSON.stringify({ cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2), ...mb }));
});

/** Sums a metric's samples in Prometheus text (optionally those whose labels contain `match`). */
export function metric(text: string, name: string, match = ''): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).filter((l) => l.includes(match))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

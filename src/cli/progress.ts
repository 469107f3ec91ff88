/**
 * A live status line on stderr: rewritten in place at a terminal, one line every few
 * seconds otherwise (CI logs stay readable).
 */
export class ProgressLine {
  private last = 0;
  private lastText = '';
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly intervalMs = process.stderr.isTTY ? 250 : 2_000) {}

  update(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    this.lastText = text;
    if (this.tty) process.stderr.write(`\r\x1b[2K${text}`);
    else process.stderr.write(`${text}\n`);
  }

  /** Leaves the last status on screen and moves to a new line. */
  done(text = this.lastText): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${text}\n`);
    else if (text !== this.lastText) process.stderr.write(`${text}\n`);
  }
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * One progress line for anything that runs longer than a few seconds. On a terminal it rewrites
 * itself in place; in a log (CI, a pipe) it prints at most one line every `everyMs`.
 */
export class Progress {
  private lastPrinted = 0;
  private open = false;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMs = 5000
  ) {}

  update(message: string): void {
    const now = Date.now();
    const text = `${this.label}: ${message} (${((now - this.started) / 1000).toFixed(1)} s)`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${text}`);
      this.open = true;
    } else if (now - this.lastPrinted >= this.everyMs) {
      this.stream.write(`${text}\n`);
      this.lastPrinted = now;
    }
  }

  done(message = 'done'): void {
    const text = `${this.label}: ${message} (${((Date.now() - this.started) / 1000).toFixed(1)} s)`;
    this.stream.write(this.stream.isTTY && this.open ? `\r\x1b[2K${text}\n` : `${text}\n`);
    this.open = false;
  }
}

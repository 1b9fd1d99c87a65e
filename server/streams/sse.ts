// One Server-Sent Events response: the headers that keep proxies from buffering it, a `retry:`
// hint, heartbeat comments (so idle streams outlive proxy read timeouts and dead peers are
// noticed), events with an `id:` for Last-Event-ID, and an end. A client that does not read fast
// enough is cut off once `maxBufferedBytes` are waiting: it reconnects with Last-Event-ID and
// catches up from MongoDB instead of growing this process's memory.
import type { Response } from 'express';

export interface SseOptions {
  heartbeatMs: number;
  retryMs: number;
  maxBufferedBytes: number;
}

export class SseResponse {
  private heartbeat: NodeJS.Timeout | undefined;
  private opened = false;
  private ended = false;

  constructor(
    private readonly res: Response,
    private readonly opts: SseOptions,
  ) {
    res.once('close', () => this.stop());
  }

  /** Sends the 200 and the reconnect hint; starts the heartbeat. */
  open(): void {
    if (this.ended) return;
    this.opened = true;
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no', // nginx: pass each event through at once
    });
    this.write(`retry: ${this.opts.retryMs}\n\n`);
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  /** An event; `id` becomes the client's Last-Event-ID. */
  event(id: string, type: string, data: unknown): void {
    this.write(`id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Sets the client's Last-Event-ID without an event (a field-only block dispatches nothing). */
  id(id: string): void {
    this.write(`id: ${id}\n\n`);
  }

  /** Resolves when the client has taken what was written (or the response closed): catch-ups wait on it. */
  async drained(): Promise<void> {
    if (this.ended || !this.res.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Ends the response (idempotent); before open() it only marks the stream ended (the route answers). */
  end(): void {
    if (this.ended) return;
    this.stop();
    if (this.opened) this.res.end();
  }

  private write(text: string): void {
    if (this.ended) return;
    this.res.write(text);
    if (this.res.writableLength > this.opts.maxBufferedBytes) this.end(); // a client that stopped reading
  }

  private stop(): void {
    this.ended = true;
    clearInterval(this.heartbeat);
  }
}

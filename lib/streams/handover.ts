// The handover of one status stream from its catch-up (read from MongoDB) to live changes (the
// hub), with no gap and no duplicate. The subscriber is registered with the hub BEFORE the
// catch-up is read, so every change committed after the read is also delivered live; live changes
// that arrive while the catch-up is still being sent are buffered, then flushed. An application's
// state is delivered only when its version is above the last one delivered for it, which drops
// the live copies of what the catch-up already said (and stale changes the stream delivers late).
import type { StatusView } from '../domain/intake/status-view.js';

export class Handover {
  private buffer: StatusView[] | undefined = [];
  /**
   * Highest version delivered per application, kept for applications delivered before the flush
   * (only their late live copies can be stale). Later live changes of one application arrive in
   * commit order, so an entry is dropped once the live stream has passed it.
   */
  private readonly delivered = new Map<string, number>();

  constructor(
    private readonly deliver: (view: StatusView) => void,
    /** Buffered live changes allowed during the catch-up; beyond it `overflow` is called. */
    private readonly maxBuffered: number,
    private readonly overflow: () => void,
  ) {}

  /** A change from the hub. */
  live(view: StatusView): void {
    if (this.buffer) {
      this.buffer.push(view);
      if (this.buffer.length > this.maxBuffered) {
        this.buffer = [];
        this.overflow();
      }
      return;
    }
    const last = this.delivered.get(view.id);
    if (last !== undefined) {
      if (view.version <= last) {
        if (view.version === last) this.delivered.delete(view.id); // the stream has caught up with it
        return;
      }
      this.delivered.delete(view.id);
    }
    this.deliver(view);
  }

  /** A state read from MongoDB (before finish()). */
  caughtUp(view: StatusView): void {
    this.offer(view);
  }

  /**
   * Records that the client already has `version` of application `id` (its Last-Event-ID on a
   * per-application stream), so live copies of it and older are not sent again.
   */
  known(id: string, version: number): void {
    this.delivered.set(id, Math.max(version, this.delivered.get(id) ?? 0));
  }

  /** The catch-up is sent: flush the buffered live changes, then deliver live changes directly. */
  finish(): void {
    const buffered = this.buffer ?? [];
    this.buffer = undefined;
    for (const v of buffered) this.offer(v);
  }

  private offer(view: StatusView): void {
    const last = this.delivered.get(view.id);
    if (last !== undefined && view.version <= last) return;
    this.delivered.set(view.id, view.version);
    this.deliver(view);
  }
}

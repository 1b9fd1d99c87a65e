// Concurrent stream slots per owner (a partner key, an admin) on this instance. A slot is taken
// before the stream opens and given back exactly once when its response closes.
export class StreamCaps {
  private readonly open = new Map<string, number>();

  /** Takes a slot for `owner` if it holds fewer than `max`; returns its release function, or null. */
  take(owner: string, max: number): (() => void) | null {
    const n = this.open.get(owner) ?? 0;
    if (n >= max) return null;
    this.open.set(owner, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(owner) ?? 1) - 1;
      if (left > 0) this.open.set(owner, left);
      else this.open.delete(owner);
    };
  }
}

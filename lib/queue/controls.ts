// Per-type pause/resume, stored in `queue_controls`; workers re-read it at most every second.
import type { Db } from 'mongodb';
import { controlsCollection } from './collection.js';

export async function pauseType(db: Db, type: string, by?: string): Promise<void> {
  await controlsCollection(db).updateOne(
    { _id: type },
    [{ $set: { paused: true, at: '$$NOW', ...(by !== undefined ? { by: { $literal: by } } : {}) } }],
    { upsert: true },
  );
}

export async function resumeType(db: Db, type: string): Promise<void> {
  await controlsCollection(db).updateOne({ _id: type }, [{ $set: { paused: false, at: '$$NOW' } }, { $unset: ['by'] }]);
}

export async function pausedTypes(db: Db): Promise<string[]> {
  const docs = await controlsCollection(db)
    .find({ paused: true }, { projection: { _id: 1 } })
    .toArray();
  return docs.map((d) => d._id).sort();
}

/** A worker's view of the paused set, refreshed in the background every refreshMs (≤ 1 s). */
export class PausedCache {
  private paused = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly refreshMs: number,
    private readonly onError: (e: unknown) => void,
    private readonly onResume: () => void = () => {},
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    if (!this.stopped) this.timer = setInterval(() => void this.refresh(), this.refreshMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  has(type: string): boolean {
    return this.paused.has(type);
  }

  refresh(): Promise<void> {
    this.loading ??= pausedTypes(this.db)
      .then((types) => {
        const resumed = [...this.paused].some((t) => !types.includes(t));
        this.paused = new Set(types);
        if (resumed) this.onResume();
      })
      .catch(this.onError)
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}

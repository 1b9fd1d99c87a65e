// Pausing partner intake: one `intake_controls` document ({_id: 'intake', paused, by, at}); each
// API instance re-reads it every refreshMs (≤ 500 ms) in the background, so a pause or resume is
// obeyed everywhere within a second without a read per request.
import type { Db } from 'mongodb';

export interface IntakeControlDoc {
  _id: 'intake';
  paused: boolean;
  /** The admin who paused or resumed it last. */
  by?: string;
  at: Date;
}

export interface IntakeState {
  paused: boolean;
  by: string | null;
  since: Date | null;
}

const controls = (db: Db) => db.collection<IntakeControlDoc>('intake_controls');

export async function setIntakePaused(db: Db, paused: boolean, by: string): Promise<IntakeState> {
  await controls(db).updateOne({ _id: 'intake' }, [{ $set: { paused, by: { $literal: by }, at: '$$NOW' } }], { upsert: true });
  return intakeState(db);
}

export async function intakeState(db: Db): Promise<IntakeState> {
  const doc = await controls(db).findOne({ _id: 'intake' });
  return { paused: doc?.paused === true, by: doc?.by ?? null, since: doc?.at ?? null };
}

/** An instance's view of the intake pause, refreshed in the background every refreshMs. */
export class IntakePauseCache {
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly refreshMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Starts the refresh timer (unref'd: it never keeps the process alive) and reads once. */
  start(): Promise<void> {
    this.timer ??= setInterval(() => void this.refresh(), this.refreshMs).unref();
    return this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  isPaused(): boolean {
    return this.paused;
  }

  refresh(): Promise<void> {
    this.loading ??= intakeState(this.db)
      .then((s) => {
        this.paused = s.paused;
      })
      .catch(this.onError)
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}

// Caps document uploads in flight on this instance, in total and per user. An upload holds its
// slot from the moment its request is accepted until its response ends, so the memory uploads
// may take on an instance is bounded by max × UPLOAD_LIMIT_BYTES (the body is held in memory).
// The counts are per instance: behind nginx a user's cap is perUser × the number of instances.
import { AppError, tooManyRequests } from '../../errors.js';

export interface UploadSlots {
  /** Takes a slot for `userId`, or throws 503 (instance full) / 429 (user at their cap); returns the release (idempotent). */
  acquire(userId: string): () => void;
  inFlight(): number;
}

export function uploadSlots(o: { max: number; perUser: number; retryAfterSeconds?: number }): UploadSlots {
  let total = 0;
  const byUser = new Map<string, number>();
  const retry = o.retryAfterSeconds ?? 1;
  return {
    acquire(userId) {
      const mine = byUser.get(userId) ?? 0;
      if (mine >= o.perUser) throw tooManyRequests(`at most ${o.perUser} uploads of yours at once; retry when one has finished`, retry);
      if (total >= o.max)
        throw new AppError(503, 'uploads_busy', 'this instance is handling as many uploads as it accepts at once; retry shortly', {
          retryAfterSeconds: retry,
        });
      total++;
      byUser.set(userId, mine + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total--;
        const left = (byUser.get(userId) ?? 1) - 1;
        if (left > 0) byUser.set(userId, left);
        else byUser.delete(userId);
      };
    },
    inFlight: () => total,
  };
}

// Which claim a worker makes next: one findOneAndUpdate (lowest latency) or a batch (fewest round
// trips per event). Pure, so the rule is unit-tested apart from MongoDB.

/** A previous round that found fewer candidates than this (and fewer than it asked for) was short. */
export const SHORT_BACKLOG = 4;

/** What the previous claim round asked for and how many candidates it found. */
export interface ClaimRound {
  asked: number;
  found: number;
}

/** A worker starts as if its previous round had found nothing: its first claim is a single one. */
export const NO_ROUND_YET: ClaimRound = { asked: 1, found: 0 };

/**
 * 'single' when the worker has exactly one idle lane, or when its previous round found a short
 * backlog (fewer than min(asked, SHORT_BACKLOG) candidates); 'batch' when several lanes are idle
 * and the previous round was full (a deep backlog). A single claim that found an event counts as
 * full (it got all it asked for), so a backlog that appears while the worker idles is batched from
 * its second round on; a batch that finds little falls back to single claims.
 */
export function claimMode(idleLanes: number, previous: ClaimRound): 'single' | 'batch' {
  if (idleLanes <= 1) return 'single';
  return previous.found < Math.min(previous.asked, SHORT_BACKLOG) ? 'single' : 'batch';
}

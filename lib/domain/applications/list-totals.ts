// Totals for the applications list.
//
// An exact countDocuments walks every index key the filter matches: 10,000 keys for an unfiltered
// list of 10,000 applications, on every page request. Under the admins load that was the largest
// share of MongoDB's CPU. So each process keeps the total per filter for a short window
// (LIST_TOTAL_CACHE_MS, 0 = always count) and concurrent requests share one count. The page's
// items are always read fresh; only `total` may lag behind by up to the window.
export type CountTotal = (key: string, count: () => Promise<number>) => Promise<number>;

export function cachedTotals(windowMs: number, now: () => number = Date.now): CountTotal {
  if (windowMs <= 0) return (_key, count) => count();
  const entries = new Map<string, { at: number; total: Promise<number> }>(); // keys: one per status, bounded
  return (key, count) => {
    const hit = entries.get(key);
    if (hit && now() - hit.at < windowMs) return hit.total;
    const total = count();
    entries.set(key, { at: now(), total });
    total.catch(() => {
      if (entries.get(key)?.total === total) entries.delete(key);
    }); // never keep a failure
    return total;
  };
}

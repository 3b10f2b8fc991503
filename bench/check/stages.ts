// mem0-gov's own view of a run, from two scrapes of its /metrics: the per-stage check histogram
// (mem0gov_check_duration_seconds{stage}) and the decisions counter. Pure text → numbers.

/** Per label value: the summed value of the series (sum and count of a histogram, a counter). */
export type Series = Map<string, number>;

export interface Scrape {
  /** stage → seconds (histogram _sum) */
  stageSum: Series;
  /** stage → observations (histogram _count) */
  stageCount: Series;
  /** decision value → checks (summed over reasons) */
  decisions: Series;
  /** "decision reason" → checks */
  reasons: Series;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/;

function label(labels: string, name: string): string | undefined {
  return new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels)?.[1];
}

/** Reads the series the bench needs from Prometheus text exposition. */
export function parseScrape(text: string): Scrape {
  const s: Scrape = emptyScrape();
  const add = (m: Series, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v); };
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, name, labels, raw] = m;
    const v = Number(raw);
    if (!Number.isFinite(v)) continue;
    if (name === 'mem0gov_check_duration_seconds_sum') add(s.stageSum, label(labels!, 'stage') ?? '?', v);
    else if (name === 'mem0gov_check_duration_seconds_count') add(s.stageCount, label(labels!, 'stage') ?? '?', v);
    else if (name === 'mem0gov_decisions_total') {
      add(s.decisions, label(labels!, 'decision') ?? '?', v);
      add(s.reasons, `${label(labels!, 'decision') ?? '?'} ${label(labels!, 'reason') ?? '?'}`, v);
    }
  }
  return s;
}

/** after − before, per key (keys only in `after` count from 0). */
function delta(before: Series, after: Series): Series {
  const out: Series = new Map();
  for (const [k, v] of after) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

export function diffScrape(before: Scrape, after: Scrape): Scrape {
  return {
    stageSum: delta(before.stageSum, after.stageSum),
    stageCount: delta(before.stageCount, after.stageCount),
    decisions: delta(before.decisions, after.decisions),
    reasons: delta(before.reasons, after.reasons),
  };
}

/** Adds `b` into `a` (accumulating the deltas of several runs). */
export function addScrape(a: Scrape, b: Scrape): Scrape {
  const sum = (x: Series, y: Series): Series => {
    const out: Series = new Map(x);
    for (const [k, v] of y) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  };
  return { stageSum: sum(a.stageSum, b.stageSum), stageCount: sum(a.stageCount, b.stageCount), decisions: sum(a.decisions, b.decisions), reasons: sum(a.reasons, b.reasons) };
}

export function emptyScrape(): Scrape {
  return { stageSum: new Map(), stageCount: new Map(), decisions: new Map(), reasons: new Map() };
}

/** Checks decided other than allow (overloaded, audit or Redis unavailable, …). */
export function notAllowed(d: Scrape): number {
  return [...d.decisions].reduce((a, [k, v]) => a + (k === 'allow' ? 0 : v), 0);
}

/** Pipeline order, then anything else the service reports; `total` last. */
const ORDER = ['parse', 'authenticate', 'gate', 'owner', 'policy', 'content', 'audit'];

/** Sorts stage names in pipeline order, unknown ones after, `total` last. */
export function compareStages(a: string, b: string): number {
  const rank = (k: string): number => (k === 'total' ? 1e9 : ORDER.indexOf(k) === -1 ? 100 : ORDER.indexOf(k));
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Mean ms per observation of each stage with observations in `d`, in pipeline order. */
export function stageMeans(d: Scrape): { stage: string; meanMs: number; count: number }[] {
  const stages = [...d.stageCount.keys()].filter((k) => (d.stageCount.get(k) ?? 0) > 0);
  return stages
    .sort(compareStages)
    .map((stage) => {
      const count = d.stageCount.get(stage)!;
      return { stage, count, meanMs: ((d.stageSum.get(stage) ?? 0) / count) * 1000 };
    });
}

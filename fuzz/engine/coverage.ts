// Coverage feedback from V8 itself (node:inspector, precise block coverage): after each input the
// driver takes the block counts of the code under test (authz/src only) and turns them into
// features — (block, hit-count bucket), like AFL/libFuzzer's edge counters — so an input that
// reaches a new branch, or runs a loop a new number of times, is kept in the corpus.
//
// V8 reports, per function that ran, its whole range plus only the nested blocks whose count
// differs from their parent's. A block that starts running as often as its parent therefore
// disappears from the report instead of appearing in it; so every block ever reported is
// remembered, and its count in a run is the count of the innermost reported range containing it.
import { Session } from 'node:inspector';

interface Range { startOffset: number; endOffset: number; count: number }
interface FunctionCoverage { functionName: string; ranges: Range[]; isBlockCoverage: boolean }
interface ScriptCoverage { scriptId: string; url: string; functions: FunctionCoverage[] }

const BUCKETS = [1, 2, 3, 4, 8, 16, 32, 128];
function bucket(count: number): number {
  let b = 0;
  for (let i = 0; i < BUCKETS.length; i++) if (count >= BUCKETS[i]!) b = i;
  return b;
}

export class Coverage {
  private readonly session = new Session();
  /** Every block (start:end) ever reported, per function (url#start). */
  private readonly known = new Map<string, [number, number][]>();
  private readonly knownKeys = new Set<string>();

  constructor(private readonly include: (url: string) => boolean) {}

  private post<T>(method: string, params: object = {}): T {
    let out: T | undefined;
    let error: Error | null = null;
    // The in-thread inspector dispatches synchronously: the callback has run when post returns.
    this.session.post(method, params, (err, res) => {
      error = err;
      out = res as T;
    });
    if (error) throw error;
    return out as T;
  }

  start(): void {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
    this.reset();
  }

  /** Forgets the counts so far (e.g. set-up code). */
  reset(): void {
    this.post('Profiler.takePreciseCoverage');
  }

  /** Features of everything that ran since the last take()/reset(); resets the counts. */
  take(): Set<string> {
    const { result } = this.post<{ result: ScriptCoverage[] }>('Profiler.takePreciseCoverage');
    const features = new Set<string>();
    for (const script of result) {
      if (!this.include(script.url)) continue;
      for (const fn of script.functions) {
        const ranges = fn.ranges;
        if (ranges.length === 0 || ranges[0]!.count === 0) continue;
        const fkey = `${script.url}#${ranges[0]!.startOffset}`;
        let blocks = this.known.get(fkey);
        if (blocks === undefined) {
          blocks = [];
          this.known.set(fkey, blocks);
        }
        for (const r of ranges) {
          const k = `${fkey}:${r.startOffset}:${r.endOffset}`;
          if (!this.knownKeys.has(k)) {
            this.knownKeys.add(k);
            blocks.push([r.startOffset, r.endOffset]);
          }
        }
        for (const [s, e] of blocks) {
          // Innermost reported range containing the block (ranges nest).
          let best: Range | undefined;
          for (const r of ranges) {
            if (r.startOffset <= s && r.endOffset >= e && (best === undefined || r.endOffset - r.startOffset <= best.endOffset - best.startOffset)) best = r;
          }
          if (best !== undefined && best.count > 0) features.add(`${fkey}:${s}:${e}:${bucket(best.count)}`);
        }
      }
    }
    return features;
  }

  stop(): void {
    try {
      this.post('Profiler.stopPreciseCoverage');
      this.post('Profiler.disable');
    } finally {
      this.session.disconnect();
    }
  }
}

// Stage 5: the policy engine. Holds one loaded bundle and swaps in a new one when the wasm or
// data file changes: the new bundle is built and probed completely before the swap, so every
// evaluation sees either the old or the new bundle, never a mix. A broken file is rejected and
// the last good bundle keeps answering.
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import type { PolicyEngine, PolicyInput } from '../types.js';
import { loadBundle, PolicyError, type EngineDecision, type LoadedBundle } from './bundle.js';
import type { PolicyConfig } from './config.js';

export type ReloadResult = 'ok' | 'unchanged' | 'error';

export interface RunningPolicyEngine extends PolicyEngine {
  evaluate(input: PolicyInput): EngineDecision;
  /** Re-reads both files now (the watcher calls this too). */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

const DEBOUNCE_MS = 50;

async function readBundle(cfg: PolicyConfig): Promise<LoadedBundle> {
  let wasm: Buffer;
  let data: Buffer;
  try {
    [wasm, data] = await Promise.all([readFile(cfg.wasmPath), readFile(cfg.dataPath)]);
  } catch (err) {
    throw new PolicyError('policy_load_failed', `cannot read policy files: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return loadBundle(wasm, data);
}

function publishRevision(revision: string): void {
  metrics.policyRevision.reset();
  metrics.policyRevision.set({ revision }, 1);
}

export async function createPolicyEngine(cfg: PolicyConfig, logger: Logger): Promise<RunningPolicyEngine> {
  const log = logger.child({ component: 'policy' });
  let current = await readBundle(cfg);
  publishRevision(current.revision);
  metrics.policyReloads.inc({ result: 'ok' });
  log.info({ revision: current.revision, wasm: cfg.wasmPath, data: cfg.dataPath }, 'policy bundle loaded');

  // Reloads run one at a time, in order.
  let chain: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadResult> => {
    const next = chain.then(async (): Promise<ReloadResult> => {
      try {
        const candidate = await readBundle(cfg);
        if (candidate.revision === current.revision) return 'unchanged';
        const previous = current.revision;
        current = candidate;
        publishRevision(candidate.revision);
        metrics.policyReloads.inc({ result: 'ok' });
        log.info({ revision: candidate.revision, previous }, 'policy bundle swapped');
        return 'ok';
      } catch (err) {
        metrics.policyReloads.inc({ result: 'error' });
        log.error({ err: (err as Error).message, reason: (err as PolicyError).reason, revision: current.revision },
          'policy bundle rejected; keeping the last good revision');
        return 'error';
      }
    });
    chain = next;
    return next;
  };

  // Watch the directories, not the files: builds replace files by rename, which would end a
  // watch on the old inode.
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  if (cfg.watch) {
    const names = new Map<string, Set<string>>();
    for (const p of [cfg.wasmPath, cfg.dataPath]) {
      const set = names.get(dirname(p)) ?? new Set<string>();
      set.add(basename(p));
      names.set(dirname(p), set);
    }
    for (const [dir, files] of names) {
      const w = watch(dir, { persistent: false }, (_event, filename) => {
        if (filename !== null && !files.has(filename.toString())) return;
        clearTimeout(timer);
        timer = setTimeout(() => void reload(), DEBOUNCE_MS);
      });
      w.on('error', (err) => log.error({ err: err.message, dir }, 'policy watch failed'));
      watchers.push(w);
    }
  }

  return {
    // Synchronous: a swap (async) can never land in the middle of one evaluation.
    evaluate: (input: PolicyInput): EngineDecision => current.evaluate(input),
    revision: () => current.revision,
    reload,
    async close(): Promise<void> {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      await chain;
    },
  };
}

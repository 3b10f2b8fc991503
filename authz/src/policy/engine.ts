// Stage 5: the policy engine. Holds one loaded bundle and swaps in a new one when the wasm or
// data file changes: the new bundle is built and probed completely before the swap, so every
// evaluation sees either the old or the new bundle, never a mix. A broken file is rejected and
// the last good bundle keeps answering.
//
// A shadow bundle (MEM0_GOV_POLICY_SHADOW_*, docs/policy-rollout.md) is held, reloaded and watched
// the same way, and evaluated with the same input after the enforced one: its decision rides
// along as `shadow` (policy/shadow.ts) for the audit row and the metric, and never decides. A shadow
// that fails to load or evaluate is counted and logged (rate-limited); the decision is unchanged.
// No shadow configured: nothing of this runs.
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import { createLogLimiter } from '../log-limit.js';
import type { PolicyEngine, PolicyInput } from '../types.js';
import { loadBundle, PolicyError, type EngineDecision, type LoadedBundle } from './bundle.js';
import type { PolicyConfig } from './config.js';
import { failedSummary, summarize } from './shadow.js';

export type ReloadResult = 'ok' | 'unchanged' | 'error';

export interface RunningPolicyEngine extends PolicyEngine {
  evaluate(input: PolicyInput): EngineDecision;
  /** Re-reads both files now (the watcher calls this too). */
  reload(): Promise<ReloadResult>;
  /** Revision of the loaded shadow bundle; undefined when none is configured or none loaded yet. */
  shadowRevision(): string | undefined;
  /** Re-reads the shadow files now ('unchanged' when no shadow is configured). */
  reloadShadow(): Promise<ReloadResult>;
  close(): Promise<void>;
}

const DEBOUNCE_MS = 50;

interface Files {
  wasmPath: string;
  dataPath: string;
}

async function readBundle(cfg: Files): Promise<LoadedBundle> {
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

function publishShadowRevision(revision: string): void {
  metrics.policyShadowRevision.reset();
  metrics.policyShadowRevision.set({ revision }, 1);
}

/** One bundle slot (enforced or shadow): the loaded bundle and its reloads, one at a time, in order. */
function slot(files: Files, onSwap: (next: LoadedBundle, previous: LoadedBundle | undefined) => void,
  onError: (err: unknown, current: LoadedBundle | undefined) => void, initial?: LoadedBundle) {
  let current = initial;
  let chain: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadResult> => {
    const next = chain.then(async (): Promise<ReloadResult> => {
      try {
        const candidate = await readBundle(files);
        if (candidate.revision === current?.revision) return 'unchanged';
        const previous = current;
        current = candidate;
        onSwap(candidate, previous);
        return 'ok';
      } catch (err) {
        onError(err, current);
        return 'error';
      }
    });
    chain = next;
    return next;
  };
  return { get: (): LoadedBundle | undefined => current, reload, settled: (): Promise<unknown> => chain };
}

export async function createPolicyEngine(cfg: PolicyConfig, logger: Logger): Promise<RunningPolicyEngine> {
  const log = logger.child({ component: 'policy' });
  const limited = createLogLimiter();
  const first = await readBundle(cfg);
  publishRevision(first.revision);
  metrics.policyReloads.inc({ result: 'ok' });
  log.info({ revision: first.revision, wasm: cfg.wasmPath, data: cfg.dataPath }, 'policy bundle loaded');

  const enforced = slot(cfg, (next, previous) => {
    publishRevision(next.revision);
    metrics.policyReloads.inc({ result: 'ok' });
    log.info({ revision: next.revision, previous: previous?.revision }, 'policy bundle swapped');
  }, (err, current) => {
    metrics.policyReloads.inc({ result: 'error' });
    log.error({ err: (err as Error).message, reason: (err as PolicyError).reason, revision: current?.revision },
      'policy bundle rejected; keeping the last good revision');
  }, first);

  // The shadow never stops the service: a bundle that does not load is counted and logged, and
  // the next good file (watcher or reloadShadow) brings it in.
  const shadowFiles = cfg.shadow;
  const shadow = shadowFiles === undefined ? undefined : slot(shadowFiles, (next, previous) => {
    publishShadowRevision(next.revision);
    log.info({ shadowRevision: next.revision, previous: previous?.revision, wasm: shadowFiles.wasmPath, data: shadowFiles.dataPath },
      previous === undefined ? 'shadow policy bundle loaded' : 'shadow policy bundle swapped');
  }, (err, current) => {
    metrics.policyShadowErrors.inc({ stage: 'load' });
    log.error({ err: (err as Error).message, shadowRevision: current?.revision, wasm: shadowFiles.wasmPath, data: shadowFiles.dataPath },
      current === undefined ? 'shadow policy bundle rejected; no shadow runs until it loads' : 'shadow policy bundle rejected; keeping the last good shadow');
  });
  if (shadow !== undefined) await shadow.reload();

  // Watch the directories, not the files: builds replace files by rename, which would end a
  // watch on the old inode. One debounce timer per slot.
  const watchers: FSWatcher[] = [];
  const timers = new Map<() => Promise<ReloadResult>, NodeJS.Timeout>();
  if (cfg.watch) {
    const names = new Map<string, Map<string, Set<() => Promise<ReloadResult>>>>();
    const add = (p: string, reload: () => Promise<ReloadResult>): void => {
      const files = names.get(dirname(p)) ?? new Map<string, Set<() => Promise<ReloadResult>>>();
      const reloads = files.get(basename(p)) ?? new Set<() => Promise<ReloadResult>>();
      reloads.add(reload);
      files.set(basename(p), reloads);
      names.set(dirname(p), files);
    };
    for (const p of [cfg.wasmPath, cfg.dataPath]) add(p, enforced.reload);
    if (shadow !== undefined && shadowFiles !== undefined) for (const p of [shadowFiles.wasmPath, shadowFiles.dataPath]) add(p, shadow.reload);
    for (const [dir, files] of names) {
      const all = new Set([...files.values()].flatMap((r) => [...r]));
      const w = watch(dir, { persistent: false }, (_event, filename) => {
        // A Kubernetes ConfigMap volume updates by swapping its `..data` symlink (kubelet's atomic
        // writer); the file names we watch never change then. That swap, or an event without a
        // name, reloads every bundle read from this directory.
        const name = filename?.toString();
        const reloads = name === undefined || name === '..data' ? all : files.get(name);
        if (reloads === undefined) return;
        for (const reload of reloads) {
          clearTimeout(timers.get(reload));
          timers.set(reload, setTimeout(() => void reload(), DEBOUNCE_MS));
        }
      });
      w.on('error', (err) => log.error({ err: err.message, dir }, 'policy watch failed'));
      watchers.push(w);
    }
  }

  return {
    // Synchronous: a swap (async) can never land in the middle of one evaluation.
    evaluate: (input: PolicyInput): EngineDecision => {
      const d = enforced.get()!.evaluate(input);
      const s = shadow?.get();
      if (s === undefined) return d;
      try {
        d.shadow = summarize(d, s.evaluate(input), s.revision);
      } catch (err) {
        metrics.policyShadowErrors.inc({ stage: 'eval' });
        limited('warn', log, 'shadow-eval', { err: (err as Error).message, shadowRevision: s.revision, route: input.request.route },
          'shadow policy evaluation failed; the enforced decision stands');
        d.shadow = failedSummary(d, s.revision);
      }
      return d;
    },
    revision: () => enforced.get()!.revision,
    reload: enforced.reload,
    shadowRevision: () => shadow?.get()?.revision,
    reloadShadow: () => shadow?.reload() ?? Promise.resolve('unchanged'),
    async close(): Promise<void> {
      for (const t of timers.values()) clearTimeout(t);
      for (const w of watchers) w.close();
      await Promise.all([enforced.settled(), shadow?.settled()]);
    },
  };
}

// How late this process's event loop has been lately: a timer every SAMPLE_MS notes how much later
// than due it ran; recentLag() is the worst of the last WINDOW_MS. A request read from a socket
// may have waited about that long before we saw it, so the transports subtract it from the
// caller's deadline (grpc-js counts a call's deadline from when it read the headers, not from when
// Envoy sent them). Under normal load it is a few ms; when the loop is saturated it is what keeps
// us from recording as answered what Envoy had already given up on. queuedFor() (below) does the
// same from the request's own arrival time at Envoy, when it has one.
import { performance } from 'node:perf_hooks';

const SAMPLE_MS = 20;
const WINDOW_MS = 1_000;
const SLOTS = Math.ceil(WINDOW_MS / SAMPLE_MS);

const lags = new Float64Array(SLOTS);
let slot = 0;
let timer: NodeJS.Timeout | null = null;

function start(): void {
  let due = performance.now() + SAMPLE_MS;
  timer = setInterval(() => {
    const now = performance.now();
    lags[slot] = Math.max(0, now - due);
    slot = (slot + 1) % SLOTS;
    due = now + SAMPLE_MS;
  }, SAMPLE_MS);
  timer.unref();
}

/** The event loop's worst delay over the last second (ms); starts measuring on first use. */
export function recentLag(): number {
  if (timer === null) start();
  let max = 0;
  for (let i = 0; i < SLOTS; i++) if (lags[i]! > max) max = lags[i]!;
  return max;
}

// Checks carry the time Envoy received the request (CheckRequest attributes.request.time). Our
// clock minus it is skew + transit + time spent queued (in Envoy, the socket, our event loop); its
// minimum over the last 30 s is skew + transit, whatever the skew (a saturation shorter than that
// does not raise it). Above that minimum is time the check spent waiting before we saw it.
const AGE_BUCKET_MS = 5_000;
const AGE_BUCKETS = 6;
const ageMins = new Float64Array(AGE_BUCKETS).fill(Infinity);
const ageSlots = new Float64Array(AGE_BUCKETS).fill(-1);

/** How long a check waited before we saw it, from its age on arrival (ms, our clock − Envoy's). */
export function queuedFor(ageMs: number, nowMs = performance.now()): number {
  if (!Number.isFinite(ageMs)) return 0;
  const b = Math.floor(nowMs / AGE_BUCKET_MS);
  const i = b % AGE_BUCKETS;
  if (ageSlots[i] !== b) {
    ageSlots[i] = b;
    ageMins[i] = ageMs;
  } else if (ageMs < ageMins[i]!) ageMins[i] = ageMs;
  let floor = Infinity;
  for (let k = 0; k < AGE_BUCKETS; k++) if (ageSlots[k]! > b - AGE_BUCKETS && ageMins[k]! < floor) floor = ageMins[k]!;
  return Math.max(0, ageMs - floor);
}

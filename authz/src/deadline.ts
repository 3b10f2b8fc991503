// A deadline judged after the event loop has read its sockets. After a stall (a burst, a busy
// machine) an expired timer runs *before* the loop's poll phase, so an answer already waiting in
// a socket would be called late. `late` runs one turn later (setImmediate follows the poll
// phase), and only if the answer's own callbacks have not cancelled it by then. Used by every
// dependency deadline: Redis commands (redis/script.ts) and audit durability (audit/writer.ts).
export interface Deadline {
  cancel(): void;
}

export function onDeadline(ms: number, late: () => void): Deadline {
  let cancelled = false;
  const timer = setTimeout(() => {
    setImmediate(() => {
      if (!cancelled) late();
    });
  }, ms);
  return {
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

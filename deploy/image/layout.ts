// The authz image's layout, in one place: docker/Dockerfile, the Helm chart's commands and the
// tests that check both refer to these (deploy/image/test, deploy/helm/test, docker/test).
export const LAYOUT = {
  /** WORKDIR of the image; every path below is relative to it. */
  workdir: '/app',
  /** tsc output of authz/src (tsconfig.build.json). */
  compiledDir: 'dist/authz',
  /** The service: `node dist/authz/main.js` (the image's CMD). */
  main: 'dist/authz/main.js',
  /** The admin CLI: `node dist/authz/cli/bin.js <command>` (migration Job, kubectl exec). */
  cli: 'dist/authz/cli/bin.js',
  /** Prebuilt audit verify worker, where authz/src/audit/build-worker.ts (WORKER_BUNDLE) looks
   * for it; built only while that lookup exists (deploy/image/build-js.ts). */
  workerBundle: 'dist/audit/verify-worker.mjs',
  /** The only writable path: the audit spool's volume. */
  stateDir: '/app/.state',
} as const;

/** The image's numeric user and group (USER in docker/Dockerfile; runAsUser in the chart). */
export const IMAGE_UID = 10001;
export const IMAGE_GID = 10001;

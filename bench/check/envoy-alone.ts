// "Envoy alone" for bench/check: the committed envoy/envoy.yaml rendered as the test stacks render
// it (envoy/render.ts), then without mem0-gov's two filters — ext_authz and ext_proc, and their
// per-route configs — so TLS, the header scrub, the admission bucket, the buffer filter and
// routing stay as shipped. Bench only: with it nothing is authorized.
import { parseDocument, type Document } from 'yaml';
import { EDGE_LISTENER, EXT_PROC_FILTER } from '../../envoy/render.js';
import { startEnvoy, type RunningEnvoy } from '../../testing/envoy.js';

export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';

type Path = (string | number)[];

const json = (doc: Document, path: Path): unknown => (doc.getIn(path, false) as { toJSON(): unknown } | undefined)?.toJSON();

/** Removes the named HTTP filters and every per-route / per-virtual-host config of them. */
export function withoutFilters(yamlText: string, filters: readonly string[]): string {
  const doc = parseDocument(yamlText);
  const listeners = (json(doc, ['static_resources', 'listeners']) ?? []) as { name?: string }[];
  const li = listeners.findIndex((l) => l.name === EDGE_LISTENER);
  if (li < 0) throw new Error(`envoy config: no listener ${EDGE_LISTENER}`);
  const hcm: Path = ['static_resources', 'listeners', li, 'filter_chains', 0, 'filters', 0, 'typed_config'];
  for (const name of filters) {
    const list = (json(doc, [...hcm, 'http_filters']) ?? []) as { name?: string }[];
    const i = list.findIndex((f) => f.name === name);
    if (i < 0) throw new Error(`envoy config: no http filter ${name}`);
    doc.deleteIn([...hcm, 'http_filters', i]);
  }
  const dropFrom = (owner: Path): void => {
    const tpfc: Path = [...owner, 'typed_per_filter_config'];
    for (const name of filters) if (doc.hasIn([...tpfc, name])) doc.deleteIn([...tpfc, name]);
    const rest = json(doc, tpfc);
    if (doc.hasIn(tpfc) && (rest === null || rest === undefined || Object.keys(rest as object).length === 0)) doc.deleteIn(tpfc);
  };
  const vhosts: Path = [...hcm, 'route_config', 'virtual_hosts'];
  ((json(doc, vhosts) ?? []) as { routes?: unknown[] }[]).forEach((vh, v) => {
    dropFrom([...vhosts, v]);
    (vh.routes ?? []).forEach((_, k) => dropFrom([...vhosts, v, 'routes', k]));
  });
  return doc.toString({ lineWidth: 0 });
}

/** Envoy as the test stacks start it (testing/envoy.ts), without ext_authz and ext_proc, in front of Mem0 at mem0Host:mem0Port. */
export function startBareEnvoy(o: { workDir: string; mem0Host: string; mem0Port: number; authzGrpcPort: number; authzHttpPort: number }): Promise<RunningEnvoy> {
  return startEnvoy({
    workDir: o.workDir, mem0Host: o.mem0Host, mem0Port: o.mem0Port, authzGrpcPort: o.authzGrpcPort, authzHttpPort: o.authzHttpPort,
    transformConfig: (yaml) => withoutFilters(yaml, [EXT_AUTHZ_FILTER, EXT_PROC_FILTER]),
  });
}

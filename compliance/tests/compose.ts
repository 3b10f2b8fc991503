// docker/compose.yaml, typed as far as the compliance suites read it.
import { parse } from 'yaml';
import { repoFile } from './helpers.js';

export interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: Array<string | { host_ip?: string; published?: string | number }>;
  read_only?: boolean;
  security_opt?: string[];
  network_mode?: string;
}

export function loadCompose(): { services: Record<string, ComposeService> } {
  return parse(repoFile('docker/compose.yaml')) as { services: Record<string, ComposeService> };
}

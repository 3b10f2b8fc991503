// Loads Envoy's ext_authz protos from the .proto files shipped in the npm package
// @grpc/grpc-js-xds (deps/…), so no third-party proto is copied into this repo
// (protos/README.md). gRPC health comes from the grpc-health-check package.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** Include roots inside @grpc/grpc-js-xds. */
export function protoIncludeDirs(): string[] {
  const pkgDir = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(pkgDir, 'deps', d));
}

export const EXT_AUTHZ_PROTO = 'envoy/service/auth/v3/external_auth.proto';
export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';

let cached: grpc.GrpcObject | undefined;

/** The loaded package tree containing envoy.service.auth.v3. */
export function loadProtos(): grpc.GrpcObject {
  if (cached) return cached;
  const def = protoLoader.loadSync([EXT_AUTHZ_PROTO, EXT_PROC_PROTO], {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: protoIncludeDirs(),
  });
  cached = grpc.loadPackageDefinition(def);
  return cached;
}

function serviceAt(path: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProtos();
  for (const part of path.split('.')) {
    node = (node as Record<string, unknown>)[part];
    if (node === undefined) throw new Error(`${path} not found in grpc-js-xds protos`);
  }
  return node as grpc.ServiceClientConstructor;
}

/** envoy.service.auth.v3.Authorization: `.service` for servers, `new X(addr, creds)` for clients. */
export function authorizationService(): grpc.ServiceClientConstructor {
  return serviceAt('envoy.service.auth.v3.Authorization');
}

/** envoy.service.ext_proc.v3.ExternalProcessor (the response stage). */
export function externalProcessorService(): grpc.ServiceClientConstructor {
  return serviceAt('envoy.service.ext_proc.v3.ExternalProcessor');
}

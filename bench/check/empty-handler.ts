// The floor: an ext_authz server that answers OK to every Check without looking at it — the same
// protos and the same grpc-js as mem0-gov, so the difference is what mem0-gov does per check.
// Runs as its own process (its CPU is measured from /proc):
//   node --import tsx bench/check/empty-handler.ts <port>   → prints "listening <port>"
import * as grpc from '@grpc/grpc-js';
import { authorizationService } from '../../authz/src/grpc/protos.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node --import tsx bench/check/empty-handler.ts <port>');
  process.exit(64);
}

const ALLOW = { status: { code: 0, message: '', details: [] }, ok_response: {} };

const server = new grpc.Server();
server.addService(authorizationService().service, {
  Check(_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
    cb(null, ALLOW);
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(`bind failed: ${err.message}`);
    process.exit(1);
  }
  console.log(`listening ${bound}`);
});
const stop = (): void => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Process entry for the `mem0-gov` CLI (bin/mem0-gov): hands process.env to config/ and the
// CLI. Logs go to stderr unless MEM0_GOV_LOG_DESTINATION says otherwise (the spec's CLI
// default), so stdout carries only the command's output (e.g. `TOKEN=$(mem0-gov token …)`).
import { cliStart } from '../config/cli.js';
import { warnUnknownVariables } from '../config/spec.js';
import { createLogger, setLogDefaults } from '../logger.js';

const env = process.env;
const start = cliStart(env);
if ('error' in start) {
  process.stderr.write(`mem0-gov: invalid configuration: ${start.error}\n`);
  process.exit(78); // EX_CONFIG
}
setLogDefaults(start.log);
warnUnknownVariables(env, createLogger());
const { main } = await import('./main.js');
main(process.argv.slice(2), env).then((code) => process.exit(code));

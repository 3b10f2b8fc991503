// Process entry for the `mem0-gov` CLI (bin/mem0-gov).
import { main } from './main.js';

main(process.argv.slice(2)).then((code) => process.exit(code));

// Process entry for the `mem0-gov` CLI (bin/mem0-gov). Logs go to stderr so stdout carries
// only the command's output (e.g. `TOKEN=$(mem0-gov token …)`).
process.env.MEM0_GOV_LOG_DESTINATION ??= 'stderr';
const { main } = await import('./main.js');
main(process.argv.slice(2)).then((code) => process.exit(code));

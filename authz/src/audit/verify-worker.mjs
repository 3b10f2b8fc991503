// Entry of verify's worker threads when mem0-gov runs from its TypeScript sources (tsx): Node 20
// gives worker threads no loader hooks, so this plain module loads verify-worker.ts through tsx's
// API. Compiled builds start verify-worker.js directly and never load this file.
import { tsImport } from 'tsx/esm/api';

const mod = await tsImport('./verify-worker.ts', import.meta.url);
const task = typeof mod.default === 'function' ? mod.default : mod.default.default;
export default task;

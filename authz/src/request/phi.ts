// One definition of "this memory is PHI", used for request bodies (stage 1) and looked-up
// memories (stage 4): metadata.phi === true, or metadata.classification (string or list)
// naming one of the configured labels (MEM0_GOV_PHI_LABELS, default "phi").

export const DEFAULT_PHI_LABELS: readonly string[] = ['phi'];

export function isPhiMetadata(metadata: unknown, labels: readonly string[] = DEFAULT_PHI_LABELS): boolean {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return false;
  const m = metadata as Record<string, unknown>;
  if (m.phi === true) return true;
  const wanted = new Set(labels.map((l) => l.toLowerCase()));
  const cls = m.classification;
  const values = Array.isArray(cls) ? cls : [cls];
  return values.some((v) => typeof v === 'string' && wanted.has(v.toLowerCase()));
}

export { lineageAttributes } from './attributes.ts';
export type { Lineage } from './types.ts';
export * from './semconv.ts';

import { existsSync, writeFileSync } from 'node:fs';
import { encodeSpans as encode } from '../../src/storage/clickhouse/span-encoder.ts';
import type { SpanEncoder } from '../../src/storage/span-store.ts';

// A span store's encoder module for the writer's preparation thread that ends its thread the
// first time it is asked to encode (as a crash of the thread would), and encodes as the real one
// after: `?marker=<file>` names the file that says it has died once.

const marker = new URL(import.meta.url).searchParams.get('marker')!;

export const encodeSpans: SpanEncoder = async (projectId, spans) => {
  if (!existsSync(marker)) {
    writeFileSync(marker, 'died\n');
    process.exit(3);
  }
  return encode(projectId, spans);
};

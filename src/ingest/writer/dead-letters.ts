import { closeSync, fsyncSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_PROTOBUF, type Spool, type SpoolPosition } from '../spool.ts';

// Records the stores refuse for good are kept whole, with the reason, in the dead-letter folder:
// the request as it was received, for a person to look at or send again.

export class DeadLetterFolder {
  private readonly dir: string;
  private readonly spool: Spool;

  constructor(o: { dir: string; spool: Spool }) {
    this.dir = o.dir;
    this.spool = o.spool;
  }

  /** Writes the record's bytes and the reason, durably; answers the files' common path, without extension. */
  keep(position: SpoolPosition, failure: Error): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const rec = this.spool.read(position);
    const base = join(this.dir, `${String(position.segment).padStart(20, '0')}-${String(position.offset).padStart(12, '0')}`);
    writeDurably(`${base}${rec.kind === RECORD_PROTOBUF ? '.otlp.pb' : '.otlp.json'}`, rec.payload);
    writeDurably(`${base}.reason.json`, JSON.stringify({ projectId: rec.projectId, at: new Date().toISOString(), reason: failure.message }, null, 2));
    return base;
  }
}

function writeDurably(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w', 0o600); // whole requests, as received: their owner's only
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// Regenerates src/ingest/otlp/otlp-trace.descriptor.json from the official OTLP protocol definitions.
// The .proto files come from the opentelemetry-proto artifact on Maven Central (it ships them
// beside the generated Java classes); protobufjs turns them into a JSON descriptor that the
// receiver loads at start, so no Maven is needed to install or run Promptline.
//
//   npm run gen:otlp            (needs mvn and unzip on PATH)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import protobuf from 'protobufjs';

const OTLP_PROTO_ARTIFACT = 'io.opentelemetry.proto:opentelemetry-proto:1.11.0-alpha';
const ENTRY = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const out = resolve(import.meta.dirname, '../src/ingest/otlp/otlp-trace.descriptor.json');

const work = mkdtempSync(join(tmpdir(), 'otlp-proto-'));
try {
  execFileSync('mvn', ['-q', 'dependency:copy', `-Dartifact=${OTLP_PROTO_ARTIFACT}`, `-DoutputDirectory=${work}`], { stdio: 'inherit' });
  const jar = readdirSync(work).find((f) => f.endsWith('.jar'));
  if (!jar) throw new Error(`no jar for ${OTLP_PROTO_ARTIFACT}`);
  execFileSync('unzip', ['-q', '-o', join(work, jar), 'opentelemetry/proto/*', '-d', join(work, 'protos')]);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(work, 'protos', target);
  root.loadSync(ENTRY, { keepCase: false });
  root.resolveAll();
  const descriptor = { source: OTLP_PROTO_ARTIFACT, entry: ENTRY, ...root.toJSON() };
  writeFileSync(out, JSON.stringify(descriptor, null, 1) + '\n');
  console.log(`wrote ${out}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// Batched edge writes per second into a real Neo4j: lineage edges of realistic batches (prompt
// versions, aliases, datasets, models, app versions) through the Neo4j adapter's UNWIND + MERGE.
// Starts its own Neo4j 5.26 on loopback unless NEO4J_URL is set.
//
//   npx node bench/neo4j-edges.ts [batches=40] [spansPerBatch=2000]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { EdgeCollector } from '../src/ingest/graph-edges.ts';
import type { ResolvedLineage } from '../src/domain/lineage.ts';
import { Neo4jLineageGraph } from '../src/storage/neo4j/neo4j-lineage-graph.ts';
import { LocalNeo4j } from '../scripts/services/neo4j.ts';
import { freePort } from '../test/helpers/server.ts';

const batches = Number(process.argv[2] ?? 40);
const spansPerBatch = Number(process.argv[3] ?? 2000);

let local: LocalNeo4j | undefined;
let home: string | undefined;
let settings = process.env.NEO4J_URL ? { url: process.env.NEO4J_URL, user: process.env.NEO4J_USER ?? 'neo4j', password: process.env.NEO4J_PASSWORD ?? '' } : undefined;
if (!settings) {
  home = mkdtempSync(join(tmpdir(), 'bench-neo4j-'));
  local = new LocalNeo4j({ home, boltPort: await freePort(), heapMb: 1024 });
  await local.start();
  settings = { url: local.url, user: local.user, password: local.password };
}
const graph = await Neo4jLineageGraph.connect(settings);
await graph.migrate();
const project = `bench-${Date.now()}`;

// A realistic spread: 50 prompts × 20 versions, 3 aliases, 200 datasets, 8 models, 30 apps × 10 versions.
function lineage(i: number): ResolvedLineage {
  const prompt = i % 50;
  return {
    prompt: { name: `prompt-${prompt}`, version: String((i >> 3) % 20), alias: ['production', 'staging', 'canary'][i % 3]!, templateHash: '' },
    promptSpanId: '',
    model: { provider: 'openai', name: `model-${i % 8}` },
    responseId: `r-${i}`,
    datasetIds: [`ds-${i % 200}`, `ds-${(i * 7) % 200}`],
    app: { name: `app-${i % 30}`, version: `1.${(i >> 2) % 10}.0` },
    conversationId: '',
  };
}

let edges = 0;
let ms = 0;
let n = 0;
for (let b = 0; b < batches; b++) {
  const c = new EdgeCollector();
  for (let s = 0; s < spansPerBatch; s++) c.add(lineage(n++ * 7919 + b), Date.now() - s);
  const list = c.toList();
  const t0 = performance.now();
  await graph.recordEdges(project, list);
  ms += performance.now() - t0;
  edges += list.length;
}
await graph.close();
await local?.stop();
if (home) rmSync(home, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      neo4j: settings.url,
      batches,
      spansPerBatch,
      edgesWritten: edges,
      edgesPerBatch: Math.round(edges / batches),
      seconds: +(ms / 1000).toFixed(2),
      edgesPerSecond: Math.round(edges / (ms / 1000)),
    },
    null,
    2,
  ),
);

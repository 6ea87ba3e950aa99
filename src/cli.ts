#!/usr/bin/env node
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createJsonLogger } from './logger.ts';
import { startPromptline, VERSION } from './server.ts';

const USAGE = `promptline ${VERSION}

Usage:
  promptline serve      Run the OTLP receiver and the API on one port (PORT, default 4318)
  promptline version    Print the version

Configuration comes from the environment: PORT, HOST (default 127.0.0.1), PROMPTLINE_DATA_DIR
(default ./.promptline), PROMPTLINE_LOG_LEVEL, PROMPTLINE_SPOOL_MAX_BYTES. See README.md.`;

async function serve(): Promise<void> {
  const started = performance.now();
  const config = loadConfig();
  const logger = createJsonLogger(config.logLevel);
  const running = await startPromptline(config, logger);
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    `Promptline ${VERSION} listening on ${running.url}\n` +
      `  OTLP/HTTP  POST ${running.url}/v1/traces\n` +
      `  API        ${running.url}/v1/provenance  (OpenAPI: ${running.url}/openapi.json)\n` +
      `  data       ${running.dataDir}  (spans: ${running.spans.backend}; lineage graph: ${running.graph.backend})\n` +
      `ready in ${ms} ms\n`,
  );
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      process.stdout.write(`${signal} again: exiting now; what was acknowledged stays in the spool\n`);
      process.exit(130);
    }
    process.stdout.write(`${signal}: stopping; writing what is held to the stores…\n`);
    running.stop().then(
      () => {
        process.stdout.write('stopped\n');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { error: err as Error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`promptline: ${err.message}\n`);
  else if ((err as NodeJS.ErrnoException)?.code === 'EADDRINUSE') process.stderr.write(`promptline: the port is in use: ${(err as Error).message}\n`);
  else process.stderr.write(`promptline: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

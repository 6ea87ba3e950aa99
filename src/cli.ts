#!/usr/bin/env -S node --conditions=@promptline/source
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { aliasCommand } from './cli/alias.ts';
import { mergeCommand, proposalsCommand, proposeCommand, reviewCommand } from './cli/proposals.ts';
import { CliError, UsageError } from './cli/http.ts';
import { terminalLine, terminalText } from './cli/terminal.ts';
import { promptsCommand } from './cli/prompts.ts';
import { impactCommand, reportCommand } from './cli/report.ts';
import { whatChangedCommand } from './cli/what-changed.ts';
import { driftCommand } from './cli/drift.ts';
import { alertsCommand, monitorsCommand } from './cli/monitors.ts';
import { auditCommand } from './cli/audit.ts';
import { keysCommand } from './cli/governance.ts';
import { webhooksCommand } from './cli/webhooks.ts';
import { deleteCommand, retentionCommand } from './cli/retention.ts';
import { loadConfig } from './config.ts';
import { ConfigError } from './common/errors.ts';
import { startHeapWatchdog } from './common/heap-watchdog.ts';
import { createJsonLogger } from './common/logger.ts';

// The server (and its stores) is loaded only by `serve`: the other commands are HTTP clients of a
// running server and start without it, but for `audit verify --file | --data-dir`, which verifies
// with no server and loads the stores' code for that alone.
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `promptline ${VERSION}

Usage:
  promptline serve      Run the OTLP receiver and the API on one port (PORT, default 4318)
  promptline version    Print the version

Prompt registry (an HTTP client of a running server: --url or PROMPTLINE_URL, default http://127.0.0.1:4318):
  promptline prompts register NAME (--file PATH | --text TEXT | --chat PATH) -m MESSAGE [--tag T]… [--base N]
  promptline prompts get URI-or-NAME [--key K] [--at ISO-TIME]
  promptline prompts list [NAME]
  promptline prompts diff NAME FROM TO
  promptline alias set NAME ALIAS (VERSION | --split V:W,V:W…) --reason R
  promptline alias history NAME ALIAS
  promptline alias rollback NAME ALIAS --reason R
  promptline propose NAME (--file F | --text T | --chat F) --title T --alias A [--version-from-candidate | --split 10,50,100]
  promptline review NAME ID (--approve | --request-changes | --comment) -m MESSAGE
  promptline merge NAME ID [--override --reason R]
  promptline proposals list NAME | proposals show NAME ID
  promptline impact (--prompt NAME [--version N | --alias A [--move SEQ]] | --dataset ID | --model NAME | --app NAME --app-version V)
  promptline what-changed [--app NAME] [--prompt NAME] [--metric M] [--from ISO] [--to ISO]   which lineage change moved a metric
  promptline drift --prompt NAME (--version N | --alias A) [--baseline first_days|window|evaluation …] [--from ISO] [--to ISO]
  promptline monitors add NAME --prompt P (--version N | --alias A) [--signals S,…] [--window 1h] | monitors list | monitors remove ID
  promptline alerts [--state open|resolved] [--monitor ID]
  promptline keys create --role R [--project P] [--promote] [--expires ISO] | keys list | keys revoke ID
  promptline webhooks add URL --events alias.moved,proposal.* | webhooks list | webhooks remove ID | webhooks deliveries ID
  promptline audit list [--actor A] [--action A] … | audit export --out FILE
  promptline retention [--days N | --unlimited]              how long the project keeps its spans
  promptline delete (trace TRACE-ID | conversation ID)         a privacy request: remove it from every span table
  promptline audit verify [--head SEQ:HASH]                   (through the server)
  promptline audit verify (--file EXPORT | --data-dir DIR) [--head SEQ:HASH]   (offline, no server)
  promptline report (--response-id ID | --prompt NAME --version N | --app NAME --app-version V) [--format markdown|html|json] [--out FILE]
  Each takes --json (print the API's answer) and --url; "promptline prompts --help" and
  "promptline alias --help" say more. PROMPTLINE_API_KEY, when set, is sent as a bearer token.
  Exit codes: 0 done, 1 the server refused or could not be reached, 2 a usage error.

Configuration comes from the environment: PORT, HOST (default 127.0.0.1), PROMPTLINE_GRPC_PORT
(OTLP/gRPC, default 4317; off for none), PROMPTLINE_DATA_DIR
(default ./.promptline), PROMPTLINE_LOG_LEVEL, PROMPTLINE_SPOOL_MAX_BYTES. See README.md.`;

async function serve(): Promise<void> {
  // V8 counts the bytes of buffers allocated since its last full collection towards the old
  // generation's limit. The receiving thread allocates few objects but many buffers (request
  // bodies, the rows coming back from the writer's preparation thread), and its heap's limit stays
  // close to its small live size: it ran a full collection every ~300 ms that freed next to nothing.
  // A growing factor of 2 gives those buffers room (bench:steady at 8,000 spans/s: 49 full
  // collections in 15 s became 19, and CPU per 1,000 spans fell 4-5 %; bench/RESULTS.md). Set before
  // the preparation thread starts, so it runs with the same factor.
  setFlagsFromString('--heap-growing-percent=100');
  const { startPromptline } = await import('./server.ts');
  const started = performance.now();
  const config = loadConfig();
  const logger = createJsonLogger(config.logLevel);
  const running = await startPromptline(config, logger);
  // A heap that stays full makes the process collect garbage instead of serving: it exits instead.
  startHeapWatchdog(logger);
  // The stop is wired before the banner says it is ready: a supervisor may signal the moment it reads
  // "ready", and a signal with no handler yet would kill the process without the orderly stop.
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      process.stdout.write(`${signal} again: exiting now; what was acknowledged stays in the spool\n`);
      process.exit(130);
    }
    process.stdout.write(`${signal}: stopping\n`);
    running.stop((line) => process.stdout.write(`  ${line}\n`)).then(
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
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    `Promptline ${VERSION} listening on ${running.url}\n` +
      `  OTLP/HTTP  POST ${running.url}/v1/traces\n` +
      (running.grpcAddress ? `  OTLP/gRPC  ${running.grpcAddress}  (TraceService/Export)\n` : '') +
      `  API        ${running.url}/v1/provenance  (OpenAPI: ${running.url}/openapi.json)\n` +
      `  data       ${running.dataDir}  (spans: ${running.spans.backend}; lineage graph: ${running.graph.backend})\n` +
      `ready in ${ms} ms\n`,
  );
  if (running.authDisabled) process.stdout.write('WARNING: authentication is OFF (PROMPTLINE_DEV_NO_AUTH): anyone on this machine is an admin. Local development only.\n');
  if (running.bootstrapKey) {
    process.stdout.write(
      `\nFirst start: an admin API key was created for project "default". It is shown this once; store it now:\n\n  ${running.bootstrapKey}\n\n` +
        'Send it as "Authorization: Bearer <key>"; create keys for apps and people with POST /v1/keys.\n',
    );
  }
}

/** A client command: a failure that is not a CliError is a defect, reported as one line plus its stack. */
async function client(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'prompts':
    case 'prompt':
      return client(() => promptsCommand(argv.slice(1)));
    case 'alias':
    case 'aliases':
      return client(() => aliasCommand(argv.slice(1)));
    case 'propose':
      return client(() => proposeCommand(argv.slice(1)));
    case 'review':
      return client(() => reviewCommand(argv.slice(1)));
    case 'merge':
      return client(() => mergeCommand(argv.slice(1)));
    case 'proposals':
    case 'proposal':
      return client(() => proposalsCommand(argv.slice(1)));
    case 'report':
      return client(() => reportCommand(argv.slice(1)));
    case 'keys':
      return client(() => keysCommand(argv.slice(1)));
    case 'audit':
      return client(() => auditCommand(argv.slice(1)));
    case 'webhooks':
    case 'webhook':
      return client(() => webhooksCommand(argv.slice(1)));
    case 'retention':
      return client(() => retentionCommand(argv.slice(1)));
    case 'delete':
      return client(() => deleteCommand(argv.slice(1)));
    case 'impact':
      return client(() => impactCommand(argv.slice(1)));
    case 'what-changed':
      return client(() => whatChangedCommand(argv.slice(1)));
    case 'drift':
      return client(() => driftCommand(argv.slice(1)));
    case 'monitors':
    case 'monitor':
      return client(() => monitorsCommand(argv.slice(1)));
    case 'alerts':
      return client(() => alertsCommand(argv.slice(1)));
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
      process.stderr.write(`unknown command "${terminalLine(command)}"\n\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`promptline: ${terminalText(err.message)}\n`);
    if (err instanceof UsageError && err.usage) process.stderr.write(`\n${err.usage}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  if (err instanceof ConfigError) process.stderr.write(`promptline: ${err.message}\n`);
  else if ((err as NodeJS.ErrnoException)?.code === 'EADDRINUSE') process.stderr.write(`promptline: the port is in use: ${(err as Error).message}\n`);
  else process.stderr.write(`promptline: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

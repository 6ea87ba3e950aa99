import neo4j from 'neo4j-driver';
import { ConfigError, StoreError } from '../../common/errors.ts';

// Driver errors become StoreErrors at the boundary, classified in one place: an unreachable or
// restarting server and transient cluster errors may pass later; anything else will not.

export function translateNeo4jError(err: unknown, what: string): StoreError {
  const e = err as { code?: string; message?: string };
  const retryable = neo4j.isRetryableError(err) || e?.code === 'ServiceUnavailable' || e?.code === 'SessionExpired' || /^Neo\.TransientError\./.test(e?.code ?? '');
  return new StoreError('neo4j', `${what} failed: ${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`, retryable, err);
}

/** At start, a clear sentence for what stops Promptline from using the configured server. */
export function startupError(err: unknown, url: string, user: string): ConfigError {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'Neo.ClientError.Security.Unauthorized' || e?.code === 'Neo.ClientError.Security.AuthenticationRateLimit') {
    return new ConfigError(`Neo4j at ${url} refused the credentials of user "${user}": check NEO4J_USER and NEO4J_PASSWORD`);
  }
  if (e?.code === 'ServiceUnavailable') {
    return new ConfigError(`cannot reach Neo4j at ${url}: is it running, and is NEO4J_URL right? (${e.message ?? ''})`);
  }
  return new ConfigError(`Neo4j at ${url} could not be used: ${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`);
}

// Where the tests find Neo4j: NEO4J_URL, NEO4J_USER, NEO4J_PASSWORD, set by `npm run services:up`
// (then `set -a; . ./.services.env`) or by the test run's global setup, which starts one itself.

export interface Neo4jSettings {
  url: string;
  user: string;
  password: string;
}

export function neo4jFromEnv(): { settings: Neo4jSettings; skipReason?: undefined } | { settings?: undefined; skipReason: string } {
  const { NEO4J_URL: url, NEO4J_USER: user, NEO4J_PASSWORD: password } = process.env;
  if (url && user && password) return { settings: { url, user, password } };
  return { skipReason: process.env.PROMPTLINE_TEST_NEO4J_SKIP_REASON ?? 'NEO4J_URL is not set and no Neo4j was started for this run' };
}

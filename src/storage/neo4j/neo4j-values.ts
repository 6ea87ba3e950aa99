import neo4j, { type Integer } from 'neo4j-driver';

// Conversions between Neo4j values and the domain's, for every Neo4j adapter. Times are integer
// milliseconds since the epoch. Integers go to the server as neo4j.int, as the driver sends a
// plain JS number as a float; they come back as JS numbers (lossless integers are off), or as an
// Integer from a driver set up otherwise.

export const toNumber = (v: unknown): number => (neo4j.isInt(v) ? v.toNumber() : Number(v));

export const toInt = (n: number): Integer => neo4j.int(n);

export const toDate = (ms: unknown): Date => new Date(toNumber(ms));

export const toDateOrNull = (ms: unknown): Date | null => (ms === null || ms === undefined ? null : toDate(ms));

export const millis = (d: Date): Integer => neo4j.int(d.getTime());

export const millisOrNull = (d: Date | null | undefined): Integer | null => (d === null || d === undefined ? null : millis(d));

/** A map projection of these properties, e.g. `v {.name, .version}`: what a query returns of a node. */
export const projection =
  (fields: readonly string[]) =>
  (variable: string): string =>
    `${variable} {${fields.map((f) => `.${f}`).join(', ')}}`;

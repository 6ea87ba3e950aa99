import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

// API key strings and their hashes. A generated key reads pl_<id>_<secret>: the id is public (it
// names the key in lists and the audit log), the secret is 32 random bytes. A key given at
// bootstrap (PROMPTLINE_API_KEY) may be any string; its id is derived from it. Only a slow hash of
// a key (scrypt, node:crypto) is ever stored.

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const PARAMS = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const GENERATED = /^pl_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

export function generateKey(): { id: string; key: string } {
  const id = randomBytes(8).toString('hex');
  return { id, key: `pl_${id}_${randomBytes(32).toString('base64url')}` };
}

/** The public id of a key string: embedded in generated keys, derived from any other. */
export function keyIdOf(key: string): string {
  const m = GENERATED.exec(key);
  return m ? m[1]! : createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export async function hashKey(key: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(key, salt, 32, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * Checked against when a key names no stored key, so that an unknown id costs the same scrypt as a
 * wrong secret for a known one. Its parameters are those of hashKey; no key matches it.
 */
export const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`;

export async function verifyKey(key: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(key, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: PARAMS.maxmem });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

import { Router, type Response } from 'express';
import { require as requirePermission } from '../../governance/access.ts';
import { principalOf } from '../auth.ts';
import { z } from 'zod';
import { MethodNotAllowedError, NotFoundError } from '../../common/errors.ts';
import { aliasName, moveAliasBody, promptName, registerVersionBody, versionNumber } from '../../registry/names.ts';
import type { RegistryService } from '../../registry/registry-service.ts';
import { aliasStateAnswer, moveAnswer, resolveAnswerFor, variablesFrom, versionAnswer } from '../controllers/registry.ts';
import { actorOf, projectOf } from '../project.ts';
import { pageQuery } from '../registry-schemas.ts';
import { parseInput } from '../validate.ts';

const isoTime = z.iso.datetime({ offset: true, message: 'at must be an ISO-8601 time, e.g. 2026-11-25T14:02:00Z' });
const versionOrLatest = z.union([z.literal('latest'), versionNumber]);

export function createRegistryRouter(service: RegistryService, opts: { protectedAliases: readonly string[] } = { protectedAliases: ['production'] }): Router {
  const protectedAliases = new Set(opts.protectedAliases);
  /** Protected aliases (production, by default) move only for admin keys or keys with the promote right. */
  const mayMove = (res: Response, name: string, alias: string) => {
    if (protectedAliases.has(alias)) requirePermission(principalOf(res), 'promote', `move the protected alias ${alias} of ${name}`);
  };
  const router = Router();
  const nameOf = (p: unknown) => parseInput(z.object({ name: promptName }).loose(), p).name;
  const aliasOf = (p: unknown) => parseInput(z.object({ alias: aliasName }).loose(), p).alias;

  router.get('/v1/prompts', async (req, res) => {
    const page = parseInput(pageQuery, req.query);
    const prompts = await service.listPrompts(projectOf(req), page);
    res.json({ prompts: prompts.map((p) => ({ ...p, updatedAt: p.updatedAt.toISOString() })) });
  });

  router.get('/v1/prompts/resolve', async (req, res) => {
    const q = parseInput(z.object({ uri: z.string().min(1), key: z.string().min(1).max(512).optional(), at: isoTime.optional() }), req.query);
    res.json(await resolveAnswerFor(service, projectOf(req), q.uri, { key: q.key, at: q.at ? new Date(q.at) : undefined }));
  });

  router.post('/v1/prompts/:name/versions', async (req, res) => {
    const name = nameOf(req.params);
    const body = parseInput(registerVersionBody, req.body);
    const v = await service.register(projectOf(req), actorOf(req), { name, ...body });
    res.status(201).location(`/v1/prompts/${encodeURIComponent(name)}/versions/${v.version}`).json(versionAnswer(v));
  });

  router.get('/v1/prompts/:name/versions', async (req, res) => {
    const name = nameOf(req.params);
    const page = parseInput(pageQuery, req.query);
    const { versions, total } = await service.listVersions(projectOf(req), name, page);
    if (total === 0) throw new NotFoundError(`prompt ${name} has no versions`);
    res.json({ name, total, versions: versions.map(versionAnswer) });
  });

  router.get('/v1/prompts/:name/versions/:version', async (req, res) => {
    const name = nameOf(req.params);
    const version = parseInput(versionOrLatest, req.params.version);
    res.json(versionAnswer(await service.getVersion(projectOf(req), name, version)));
  });

  const immutable = () => {
    throw new MethodNotAllowedError('prompt versions are immutable: register a new version instead');
  };
  router.put('/v1/prompts/:name/versions/:version', immutable);
  router.patch('/v1/prompts/:name/versions/:version', immutable);
  router.delete('/v1/prompts/:name/versions/:version', immutable);

  router.post('/v1/prompts/:name/versions/:version/render', async (req, res) => {
    const name = nameOf(req.params);
    const version = parseInput(versionOrLatest, req.params.version);
    const { version: v, rendered } = await service.render(projectOf(req), name, version, variablesFrom(req.body));
    res.json({ name, version: v.version, templateHash: v.templateHash, rendered });
  });

  router.get('/v1/prompts/:name/diff', async (req, res) => {
    const name = nameOf(req.params);
    const q = parseInput(z.object({ from: versionNumber, to: versionNumber }), req.query);
    res.json(await service.diff(projectOf(req), name, q.from, q.to));
  });

  router.get('/v1/prompts/:name/aliases', async (req, res) => {
    const name = nameOf(req.params);
    const aliases = await service.listAliases(projectOf(req), name);
    res.json({ name, aliases: aliases.map((a) => ({ name: a.name, alias: a.alias, target: a.target, since: moveAnswer(a.since) })) });
  });

  router.put('/v1/prompts/:name/aliases/:alias', async (req, res) => {
    const name = nameOf(req.params);
    const alias = aliasOf(req.params);
    const body = parseInput(moveAliasBody, req.body);
    mayMove(res, name, alias);
    const move = await service.moveAlias(projectOf(req), actorOf(req), { name, alias, ...body });
    res.json(moveAnswer(move));
  });

  router.post('/v1/prompts/:name/aliases/:alias/rollback', async (req, res) => {
    const name = nameOf(req.params);
    const alias = aliasOf(req.params);
    const body = parseInput(z.object({ reason: z.string().trim().min(1, 'the reason is empty').max(2000) }).strict(), req.body);
    mayMove(res, name, alias);
    res.json(moveAnswer(await service.rollback(projectOf(req), actorOf(req), name, alias, body.reason)));
  });

  router.get('/v1/prompts/:name/aliases/:alias', async (req, res) => {
    const name = nameOf(req.params);
    const alias = parseInput(z.object({ alias: z.union([z.literal('latest'), aliasName]) }).loose(), req.params).alias;
    const q = parseInput(z.object({ at: isoTime.optional(), key: z.string().min(1).max(512).optional() }), req.query);
    const at = q.at ? new Date(q.at) : new Date();
    res.json(aliasStateAnswer(await service.getAlias(projectOf(req), name, alias, q.at ? at : undefined), at, q.key));
  });

  router.get('/v1/prompts/:name/aliases/:alias/history', async (req, res) => {
    const name = nameOf(req.params);
    const alias = aliasOf(req.params);
    res.json({ name, alias, moves: (await service.aliasHistory(projectOf(req), name, alias)).map(moveAnswer) });
  });

  return router;
}

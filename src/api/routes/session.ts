import { z } from 'zod';
import { PERMISSIONS, ROLES } from '../../domain/governance.ts';
import { isInstanceAdmin, may } from '../../governance/access.ts';
import { route } from '../route.ts';

// Who the calling key is: what a client (the console) shows and which controls it offers. The
// server stays the authority: every call checks its own access.

const sessionAnswer = z.object({
  keyId: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  promote: z.boolean(),
  instanceAdmin: z.boolean(),
  project: z.string().describe("The key's own project."),
  activeProject: z.string().describe("The project this call acted on: the one X-Promptline-Project named (an instance admin may name any), else the key's own."),
  permissions: z.array(z.enum(PERMISSIONS)).describe('Every permission the key holds.'),
  projects: z.array(z.string()).describe("The projects the key may act on, sorted: its own; for an instance admin, every project of a key or a registered prompt."),
});

export const sessionRoutes = [
  route({
    method: 'get',
    path: '/v1/session',
    access: 'authenticated',
    what: 'read its own key',
    tag: 'governance',
    summary: 'The calling key: its role, permissions and projects',
    responses: { '200': { description: 'The calling key', schema: sessionAnswer } },
    handle: async (ctx, s) => {
      const p = ctx.principal;
      const instance = isInstanceAdmin(p);
      const projects = instance ? [...new Set([p.project, ctx.project, ...(await s.keys.listProjects()), ...(await s.registry.listProjects())])].sort() : [p.project];
      ctx.res.json({
        keyId: p.keyId,
        name: p.name,
        role: p.role,
        promote: p.promote,
        instanceAdmin: instance,
        project: p.project,
        activeProject: ctx.project,
        permissions: PERMISSIONS.filter((permission) => may(p, permission)),
        projects,
      });
    },
  }),
];

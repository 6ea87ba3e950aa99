// The agent's two prompts, registered in Promptline's registry (with the alias `production`)
// when they are not there yet, through the registry's HTTP API.

export const PLAN_PROMPT = {
  name: 'support-plan',
  commitMessage: 'plan: look the order up before answering',
  template: {
    messages: [
      { role: 'system', content: 'You are the support agent of {{shop}}. Decide which tool answers the question; never guess an order status.' },
      { role: 'user', content: '{{question}}' },
    ],
  },
};

export const ANSWER_PROMPT = {
  name: 'support-answer',
  commitMessage: 'answer: short, cite the order record',
  template: {
    messages: [
      { role: 'system', content: 'You are the support agent of {{shop}}. Answer in two sentences, using only these facts: {{facts}}' },
      { role: 'user', content: '{{question}}' },
    ],
  },
};

async function call(base: string, apiKey: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Registers the prompt's first version and points `production` at it, unless the alias exists. */
export async function ensurePrompt(base: string, apiKey: string | undefined, p: typeof PLAN_PROMPT): Promise<'existed' | 'registered'> {
  const alias = await call(base, apiKey, 'GET', `/v1/prompts/${p.name}/aliases/production`);
  if (alias.status === 200) return 'existed';
  if (alias.status !== 404) throw new Error(`the registry answered ${alias.status}: ${JSON.stringify(alias.body)}`);
  const latest = await call(base, apiKey, 'GET', `/v1/prompts/${p.name}/versions/latest`);
  let version = latest.status === 200 ? (latest.body as { version: number }).version : undefined;
  if (version === undefined) {
    const created = await call(base, apiKey, 'POST', `/v1/prompts/${p.name}/versions`, { template: p.template, commitMessage: p.commitMessage, tags: ['example'] });
    if (created.status !== 201) throw new Error(`registering ${p.name} failed: ${created.status} ${JSON.stringify(created.body)}`);
    version = (created.body as { version: number }).version;
  }
  const moved = await call(base, apiKey, 'PUT', `/v1/prompts/${p.name}/aliases/production`, { version, reason: 'first release of the example agent' });
  if (moved.status !== 200) throw new Error(`setting ${p.name}@production failed: ${moved.status} ${JSON.stringify(moved.body)}`);
  return 'registered';
}

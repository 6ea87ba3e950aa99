import { describe, expect, it } from 'vitest';
import { lineageAttributes } from '../src/index.ts';

describe('lineageAttributes', () => {
  it('uses OpenTelemetry GenAI names where they exist and promptline.* for the rest', () => {
    expect(
      lineageAttributes({
        prompt: { name: 'support-answer', version: 3, alias: 'production', templateHash: 'ab' },
        model: { provider: 'openai', name: 'gpt-4o' },
        datasets: ['kb-1'],
        app: { name: 'bot', version: '1.0.0' },
        conversationId: 'c1',
      }),
    ).toEqual({
      'gen_ai.prompt.name': 'support-answer',
      'gen_ai.prompt.version': 3,
      'promptline.prompt.alias': 'production',
      'promptline.prompt.hash': 'ab',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.provider.name': 'openai',
      'promptline.dataset.ids': ['kb-1'],
      'gen_ai.agent.name': 'bot',
      'gen_ai.agent.version': '1.0.0',
      'gen_ai.conversation.id': 'c1',
    });
  });

  it('leaves out what the app did not give', () => {
    expect(lineageAttributes({ prompt: { name: 'p' } })).toEqual({ 'gen_ai.prompt.name': 'p' });
  });
});

import { useRoute } from 'preact-iso';
import { seg } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorBox, Facts, Loading, Page, Time } from '../components/common.tsx';
import { Tags, TemplateView, comparePath, decodeParam, promptPath, responsesPath, versionPath } from '../components/prompts-common.tsx';
import { VersionInsights } from '../components/prompts-insights.tsx';
import { RenderVersion } from '../components/prompts-render.tsx';
import type { RegistryVersion } from '../types.ts';

// One version of a prompt: its template and facts, rendering it with variables, and how it has
// done (?range=24h|7d|30d).

export function VersionView() {
  const route = useRoute();
  const session = useSession();
  const name = decodeParam(route.params.name);
  const asked = decodeParam(route.params.version);
  const v = useApi<RegistryVersion>(`/v1/prompts/${seg(name)}/versions/${seg(asked)}`);
  const version = v.data;

  return (
    <Page
      title={`${name} · version ${version?.version ?? asked}`}
      actions={
        <>
          <a class="button" href={promptPath(name)}>
            All versions
          </a>
          {version && version.version > 1 ? (
            <a class="button" href={promptPath(name, { tab: 'diff', from: version.baseVersion ?? version.version - 1, to: version.version })}>
              Diff with v{version.baseVersion ?? version.version - 1}
            </a>
          ) : null}
          {version && version.version > 1 && session.may('read') ? (
            <a class="button" href={comparePath(name, version.version - 1, version.version)}>
              Compare with v{version.version - 1}
            </a>
          ) : null}
          {version && session.may('read') ? (
            <a class="button" href={responsesPath({ prompt: name, version: version.version })}>
              Responses
            </a>
          ) : null}
        </>
      }
    >
      <ErrorBox error={v.error} />
      {v.loading && !version ? <Loading what="version" /> : null}
      {version ? (
        <>
          <div class="grid2">
            <div class="panel">
              <Facts
                rows={[
                  ['URI', <code>{version.uri}</code>],
                  ['Commit message', <span class="commit">{version.commitMessage}</span>],
                  ['Author', version.author],
                  ['Registered', <Time iso={version.createdAt} />],
                  ['Tags', <Tags tags={version.tags} />],
                  ['Based on', version.baseVersion === null ? null : <a href={versionPath(name, version.baseVersion)}>v{version.baseVersion}</a>],
                  ['Template hash', <code class="hash">{version.templateHash}</code>],
                  ['Template type', version.template.type === 'chat' ? `chat, ${version.template.messages.length} messages` : 'text'],
                  [
                    'Variables',
                    version.variables.length === 0 ? null : (
                      <span class="tags">
                        {version.variables.map((x) => (
                          <code key={x} class="badge">
                            {x}
                          </code>
                        ))}
                      </span>
                    ),
                  ],
                ]}
              />
            </div>
            <div>
              <h2 class="first">Template</h2>
              <TemplateView template={version.template} label="Template" />
            </div>
          </div>
          <RenderVersion version={version} />
          {session.may('read') ? <VersionInsights name={name} version={version.version} /> : null}
        </>
      ) : null}
    </Page>
  );
}

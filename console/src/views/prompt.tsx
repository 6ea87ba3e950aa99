import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { seg } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { Empty, ErrorBox, Loading, Page, Time } from '../components/common.tsx';
import { AliasesTab } from '../components/prompts-aliases.tsx';
import { decodeParam, comparePath, promptPath, responsesPath, shortHash, Tags, versionParam, versionPath } from '../components/prompts-common.tsx';
import { SideBySideDiff } from '../components/prompts-diff.tsx';
import { RegisterVersion } from '../components/prompts-editor.tsx';
import { proposalsPath } from '../components/proposals-common.tsx';
import type { RegistryDiff, RegistryVersion, RegistryVersionList } from '../types.ts';

// One prompt: its versions (and, with edit, a new one), the difference between any two, and its
// aliases; a link to its proposals. The tab and what it shows (?tab=versions|diff|aliases, from, to,
// alias, at) are in the URL.

const TABS = [
  { id: 'versions', label: 'Versions' },
  { id: 'diff', label: 'Diff' },
  { id: 'aliases', label: 'Aliases' },
] as const;
type Tab = (typeof TABS)[number]['id'];

export function PromptView() {
  const route = useRoute();
  const location = useLocation();
  const session = useSession();
  const name = decodeParam(route.params.name);
  const tab: Tab = TABS.find((t) => t.id === location.query.tab)?.id ?? 'versions';
  const list = useApi<RegistryVersionList>(`/v1/prompts/${seg(name)}/versions`, { query: { limit: 500 } });
  const versions = list.data?.versions ?? [];
  const latest = versions[0] ?? null;

  return (
    <Page
      title={name}
      actions={
        <>
          <a class="button" href={proposalsPath(name)}>
            Proposals
          </a>
          {session.may('read') ? (
            <>
              <a class="button" href={responsesPath({ prompt: name })}>
                Responses
              </a>
              {versions.length >= 2 ? (
                <a class="button" href={comparePath(name, versions[1]!.version, versions[0]!.version)}>
                  Compare versions
                </a>
              ) : null}
            </>
          ) : null}
        </>
      }
    >
      <nav class="tabs" aria-label="Prompt">
        {TABS.map((t) => (
          <a key={t.id} href={promptPath(name, { tab: t.id === 'versions' ? null : t.id })} aria-current={t.id === tab ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="versions" /> : null}
      {list.data ? (
        tab === 'versions' ? (
          <VersionsTab name={name} list={list.data} latest={latest} />
        ) : tab === 'diff' ? (
          <DiffTab name={name} versions={versions} />
        ) : (
          <AliasesTab name={name} versions={versions} />
        )
      ) : null}
    </Page>
  );
}

function VersionsTab(props: { name: string; list: RegistryVersionList; latest: RegistryVersion | null }) {
  const session = useSession();
  const [editing, setEditing] = useState(false);
  const { versions, total } = props.list;
  return (
    <div>
      {session.may('edit') ? (
        <div class="form-row">
          <button type="button" class={editing ? undefined : 'primary'} aria-expanded={editing} onClick={() => setEditing(!editing)}>
            {editing ? 'Close the editor' : 'Register a new version'}
          </button>
        </div>
      ) : null}
      {editing ? <RegisterVersion name={props.name} latest={props.latest} /> : null}
      <p class="hint">
        {total} {total === 1 ? 'version' : 'versions'}, newest first{total > versions.length ? ` (the newest ${versions.length} shown)` : ''}.
      </p>
      <table aria-label="Versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Commit message</th>
            <th scope="col">Author</th>
            <th scope="col">Registered</th>
            <th scope="col">Tags</th>
            <th scope="col">Hash</th>
            <th scope="col">Based on</th>
            <th scope="col">Diff</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td>
                <a href={versionPath(props.name, v.version)}>v{v.version}</a>
              </td>
              <td class="commit">{v.commitMessage}</td>
              <td>{v.author}</td>
              <td>
                <Time iso={v.createdAt} />
              </td>
              <td>
                <Tags tags={v.tags} />
              </td>
              <td>
                <code title={v.templateHash}>{shortHash(v.templateHash)}</code>
              </td>
              <td>{v.baseVersion === null ? <span class="muted">—</span> : <a href={versionPath(props.name, v.baseVersion)}>v{v.baseVersion}</a>}</td>
              <td>
                {v.baseVersion === null ? (
                  <span class="muted">—</span>
                ) : (
                  <a href={promptPath(props.name, { tab: 'diff', from: v.baseVersion, to: v.version })} aria-label={`Diff v${v.baseVersion} → v${v.version}`}>
                    v{v.baseVersion} → v{v.version}
                  </a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DiffTab(props: { name: string; versions: RegistryVersion[] }) {
  const location = useLocation();
  const versions = props.versions;
  const from = versionParam(location.query.from) ?? versions[1]?.version ?? versions[0]?.version ?? null;
  const to = versionParam(location.query.to) ?? versions[0]?.version ?? null;
  const diff = useApi<RegistryDiff>(from !== null && to !== null ? `/v1/prompts/${seg(props.name)}/diff` : null, { query: { from, to } });
  const pick = (key: 'from' | 'to', value: string) => location.route(promptPath(props.name, { tab: 'diff', from, to, [key]: value }), true);
  if (versions.length === 0) return <Empty>No versions.</Empty>;
  const option = (v: RegistryVersion) => (
    <option key={v.version} value={String(v.version)}>
      v{v.version} — {v.commitMessage.length > 60 ? `${v.commitMessage.slice(0, 60)}…` : v.commitMessage}
    </option>
  );
  return (
    <div>
      <form class="filters" aria-label="Versions to compare" onSubmit={(e) => e.preventDefault()}>
        <label>
          From version
          <select value={String(from)} onChange={(e) => pick('from', e.currentTarget.value)}>
            {versions.map(option)}
          </select>
        </label>
        <label>
          To version
          <select value={String(to)} onChange={(e) => pick('to', e.currentTarget.value)}>
            {versions.map(option)}
          </select>
        </label>
        {from !== null && to !== null ? (
          <span class="links">
            <a href={versionPath(props.name, from)}>Version {from}</a> · <a href={versionPath(props.name, to)}>Version {to}</a>
          </span>
        ) : null}
      </form>
      <ErrorBox error={diff.error} />
      {diff.loading ? <Loading what="diff" /> : null}
      {diff.data && !diff.loading ? <SideBySideDiff diff={diff.data} /> : null}
    </div>
  );
}

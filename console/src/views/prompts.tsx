import { useLocation } from 'preact-iso';
import { withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { Empty, ErrorBox, Loading, Page, Time, formatCount } from '../components/common.tsx';
import { promptPath, versionPath } from '../components/prompts-common.tsx';
import type { PromptSummary } from '../types.ts';

// Every registered prompt of the project: its newest version, how many versions, its aliases and
// when it last changed. The name filter is in the URL (?q=).

const PAGE = 500;

export function PromptsView() {
  const location = useLocation();
  const q = location.query.q ?? '';
  const offset = Math.max(0, Number.parseInt(location.query.offset ?? '0', 10) || 0);
  const list = useApi<{ prompts: PromptSummary[] }>('/v1/prompts', { query: { limit: PAGE, offset } });
  const needle = q.trim().toLowerCase();
  const prompts = (list.data?.prompts ?? []).filter((p) => needle === '' || p.name.toLowerCase().includes(needle));

  return (
    <Page title="Prompts">
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Filter by name
          <input
            type="search"
            value={q}
            placeholder="e.g. support"
            onInput={(e) => location.route(withQuery('/prompts', { q: e.currentTarget.value, offset: offset || null }), true)}
          />
        </label>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="prompts" /> : null}
      {list.data && prompts.length === 0 ? <Empty>{needle ? `No prompt name contains “${q}”.` : 'No prompts are registered in this project yet.'}</Empty> : null}
      {prompts.length > 0 ? (
        <table aria-label="Prompts">
          <thead>
            <tr>
              <th scope="col">Prompt</th>
              <th scope="col" class="num">
                Latest version
              </th>
              <th scope="col" class="num">
                Versions
              </th>
              <th scope="col">Aliases</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {prompts.map((p) => (
              <tr key={p.name}>
                <td>
                  <a href={promptPath(p.name)}>{p.name}</a>
                </td>
                <td class="num">
                  <a href={versionPath(p.name, p.latestVersion)}>v{p.latestVersion}</a>
                </td>
                <td class="num">{formatCount(p.versions)}</td>
                <td>
                  {p.aliases.length === 0 ? (
                    <span class="muted">—</span>
                  ) : (
                    <span class="tags">
                      {p.aliases.map((a) => (
                        <a class="badge" key={a} href={promptPath(p.name, { tab: 'aliases', alias: a })}>
                          {a}
                        </a>
                      ))}
                    </span>
                  )}
                </td>
                <td>
                  <Time iso={p.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {list.data && (offset > 0 || list.data.prompts.length === PAGE) ? (
        <nav class="pager" aria-label="Pages">
          {offset > 0 ? <a href={withQuery('/prompts', { q, offset: Math.max(0, offset - PAGE) || null })}>Previous page</a> : null}
          {list.data.prompts.length === PAGE ? <a href={withQuery('/prompts', { q, offset: offset + PAGE })}>Next page</a> : null}
        </nav>
      ) : null}
    </Page>
  );
}

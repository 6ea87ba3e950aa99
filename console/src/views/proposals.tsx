import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { seg } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { Empty, ErrorBox, Loading, Page, Time } from '../components/common.tsx';
import { decodeParam, promptPath } from '../components/prompts-common.tsx';
import { PROPOSAL_STATES, StateBadge, proposalPath, proposalsPath, requestText, stateLabel, stateParam } from '../components/proposals-common.tsx';
import { ProposeForm } from '../components/proposals-form.tsx';
import type { ProposalList, RegistryAlias, RegistryVersionList } from '../types.ts';

// /prompts/:name/proposals?state=…: a prompt's proposals, newest first, filtered by state (in the
// address); and, for a key with the propose permission, the form that opens one.

const PAGE = 200;

export function ProposalsView() {
  const route = useRoute();
  const location = useLocation();
  const session = useSession();
  const name = decodeParam(route.params.name);
  const state = stateParam(location.query.state);
  const list = useApi<ProposalList>(`/v1/prompts/${seg(name)}/proposals`, { query: { state, limit: PAGE } });
  const [proposing, setProposing] = useState(false);
  const mayPropose = session.may('propose');
  const items = list.data?.proposals ?? [];

  return (
    <Page
      title={`Proposals of ${name}`}
      actions={
        <>
          <a class="button" href={promptPath(name)}>
            Prompt {name}
          </a>
          <button type="button" onClick={() => list.reload()}>
            Refresh
          </button>
        </>
      }
    >
      {mayPropose ? (
        <div class="form-row">
          <button type="button" class={proposing ? undefined : 'primary'} aria-expanded={proposing} onClick={() => setProposing(!proposing)}>
            {proposing ? 'Close the form' : 'Propose a change'}
          </button>
        </div>
      ) : null}
      {proposing ? <ProposeLoader name={name} /> : null}
      <form class="filters" role="search" aria-label="Filter proposals" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={state ?? ''} onChange={(e) => location.route(proposalsPath(name, { state: e.currentTarget.value }), true)}>
            <option value="">any</option>
            {PROPOSAL_STATES.map((s) => (
              <option key={s} value={s}>
                {stateLabel(s)}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="proposals" /> : null}
      {list.data && items.length === 0 ? <Empty>No {state ? `${stateLabel(state)} ` : ''}proposals.</Empty> : null}
      {items.length > 0 ? (
        <>
          <p class="hint">
            {items.length} {items.length === 1 ? 'proposal' : 'proposals'}, newest first{items.length >= PAGE ? ` (the newest ${PAGE} shown)` : ''}.
          </p>
          <div class="table-scroll">
            <table class="proposals" aria-label="Proposals">
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">State</th>
                  <th scope="col">Author</th>
                  <th scope="col">Asks for</th>
                  <th scope="col">Approvals</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {items.map((p) => (
                  <tr key={p.id}>
                    <th scope="row" class="proposal-title">
                      <a href={proposalPath(p.name, p.id)}>{p.title}</a>
                    </th>
                    <td>
                      <StateBadge state={p.state} />
                    </td>
                    <td>{p.author}</td>
                    <td>{requestText(p)}</td>
                    <td class="num">{p.approvals.length}</td>
                    <td class="nowrap">
                      <Time iso={p.createdAt} />
                    </td>
                    <td class="nowrap">
                      <Time iso={p.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </Page>
  );
}

/** The form needs the prompt's versions (its template, the base) and aliases (what to move). */
function ProposeLoader(props: { name: string }) {
  const versions = useApi<RegistryVersionList>(`/v1/prompts/${seg(props.name)}/versions`, { query: { limit: 500 } });
  const aliases = useApi<{ name: string; aliases: RegistryAlias[] }>(`/v1/prompts/${seg(props.name)}/aliases`);
  if (versions.error || aliases.error) return <ErrorBox error={versions.error ?? aliases.error} />;
  if (!versions.data || !aliases.data) return <Loading what="the prompt's versions" />;
  return <ProposeForm name={props.name} versions={versions.data.versions} aliases={aliases.data.aliases} />;
}

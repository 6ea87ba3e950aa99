import { Fragment } from 'preact';
import { useRoute } from 'preact-iso';
import { ApiError, seg, withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorBox, Facts, Loading, Page, Time } from '../components/common.tsx';
import { PromptVersionLink, RegistrationBadge, isoToMs, responsesPath, targetText, tracePath, versionPath } from '../components/investigate-bits.tsx';
import { ReportView } from '../components/investigate-report.tsx';
import type { AliasHistory, AliasMove, AliasState, ComplianceReport, ProvenanceRecord } from '../components/investigate-types.ts';

// One response: what produced it (prompt version, alias, registration then, model, datasets, app
// version, conversation), where the alias pointed when it was produced, and its compliance report.

/** Moves shown on each side of the one in force; the prompt's page has them all. */
const AROUND = 3;

export function ResponseView(props: { responseId?: string }) {
  const { params } = useRoute();
  const session = useSession();
  // The router hands over the path segment decoded.
  const responseId = props.responseId ?? params.responseId ?? '';
  const mayRead = session.may('read');
  const prov = useApi<ProvenanceRecord>(mayRead ? '/v1/provenance' : null, { query: { response_id: responseId } });
  const p = prov.data;
  const report = useApi<ComplianceReport>(p ? '/v1/reports/compliance' : null, { query: { response_id: responseId, format: 'json' } });

  const title = `Response ${responseId}`;
  if (!mayRead) {
    return (
      <Page title={title}>
        <p>This key may not read lineage.</p>
      </Page>
    );
  }
  if (prov.error) {
    const missing = prov.error instanceof ApiError && prov.error.status === 404;
    return (
      <Page title={title}>
        {missing ? (
          <div class="notice" role="alert">
            <p>
              <strong>No response with id “{responseId}” has been received</strong> in project {session.project}.
            </p>
            <p class="hint">
              The id is the one the model provider returned (gen_ai.response.id). A response shows a moment after its app sends the span; search the{' '}
              <a href="/responses">responses</a> by prompt, time or trace instead.
            </p>
          </div>
        ) : (
          <ErrorBox error={prov.error} />
        )}
      </Page>
    );
  }
  if (!p) {
    return (
      <Page title={title}>
        <Loading what="provenance" />
      </Page>
    );
  }
  const prompt = p.prompt;
  return (
    <Page
      title={title}
      actions={
        <>
          <a class="button" href={tracePath(p.traceId, p.spanId)}>
            Open the trace
          </a>
          {prompt && versionPath(prompt.name, prompt.version) ? (
            <a class="button" href={versionPath(prompt.name, prompt.version)!}>
              Prompt version
            </a>
          ) : null}
        </>
      }
    >
      <section class="panel" aria-labelledby="provenance-title">
        <h2 id="provenance-title">Provenance</h2>
        <Facts
          rows={[
            ['Response id', <code>{p.responseId ?? responseId}</code>],
            ['Time', <Time iso={p.timestamp} />],
            [
              'Prompt',
              prompt ? (
                <>
                  <PromptVersionLink name={prompt.name} version={prompt.version} />{' '}
                  {prompt.version !== null ? (
                    <a class="hint" href={responsesPath({ prompt: prompt.name, version: prompt.version })}>
                      responses of this version
                    </a>
                  ) : null}
                </>
              ) : (
                'none recorded'
              ),
            ],
            ['Alias', prompt?.alias],
            [
              'Registration then',
              prompt ? (
                <>
                  <RegistrationBadge registration={prompt.registration} />
                  {prompt.registeredAt ? (
                    <span class="hint">
                      {' '}
                      {prompt.registration === 'registered_later' ? 'registered later, at ' : 'registered '}
                      <Time iso={prompt.registeredAt} />
                    </span>
                  ) : null}
                </>
              ) : null,
            ],
            ['Commit message', prompt?.commitMessage],
            ['Author', prompt?.author],
            ['Template hash', prompt?.templateHash ? <code>{prompt.templateHash}</code> : null],
            ['Model', p.model ? [p.model.provider, p.model.name].filter(Boolean).join(' / ') : null],
            [
              'Datasets',
              p.datasets.length > 0
                ? p.datasets.map((d, i) => (
                    <span key={d.id}>
                      {i > 0 ? ', ' : ''}
                      <a href={responsesPath({ dataset: d.id })}>{d.id}</a>
                    </span>
                  ))
                : null,
            ],
            [
              'App version',
              p.app.name ? (
                <a href={responsesPath({ app: p.app.name, app_version: p.app.version })}>
                  {p.app.name}
                  {p.app.version ? ` ${p.app.version}` : ''}
                </a>
              ) : null,
            ],
            ['Conversation', p.conversationId ? <a href={responsesPath({ conversation: p.conversationId })}>{p.conversationId}</a> : null],
            [
              'Trace',
              <>
                <a href={tracePath(p.traceId, p.spanId)}>
                  <code>{p.traceId}</code>
                </a>{' '}
                <span class="hint">span {p.spanName}</span>
              </>,
            ],
          ]}
        />
      </section>
      {prompt?.alias && session.may('prompts') ? <AliasThen name={prompt.name} alias={prompt.alias} at={p.timestamp} usedVersion={prompt.version} /> : null}
      <ErrorBox error={report.error} />
      {report.data ? <ReportView report={report.data} responseId={responseId} /> : report.loading ? <Loading what="compliance report" /> : null}
    </Page>
  );
}

/** The alias's moves around the response's time, the one in force highlighted, and where it pointed then. */
function AliasThen(props: { name: string; alias: string; at: string; usedVersion: number | string | null }) {
  const base = `/v1/prompts/${seg(props.name)}/aliases/${seg(props.alias)}`;
  const history = useApi<AliasHistory>(`${base}/history`);
  const unknownAlias = history.error instanceof ApiError && history.error.status === 404;
  const at = isoToMs(props.at);
  const moves = history.data?.moves ?? [];
  const inForce = moves.reduce<number>((found, m, i) => (isoToMs(m.at) <= at ? i : found), -1);
  // Ask where it pointed only when it existed then: before its first move there is nothing to ask.
  const then = useApi<AliasState>(history.data && inForce >= 0 ? base : null, { query: { at: props.at } });
  const from = Math.max(0, (inForce < 0 ? 0 : inForce) - AROUND);
  const shown = moves.slice(from, (inForce < 0 ? 0 : inForce) + AROUND + 1);
  const promptPage = withQuery(`/prompts/${seg(props.name)}`, { tab: 'aliases' });

  return (
    <section class="panel" aria-labelledby="alias-title">
      <h2 id="alias-title">
        Alias {props.alias} at the time of the response
      </h2>
      {unknownAlias ? (
        <p class="alias-then">
          The registry has no alias {props.alias} for {props.name}: the app named an alias that was never set here.
        </p>
      ) : (
        <ErrorBox error={history.error ?? then.error} />
      )}
      {history.loading && !history.data ? <Loading what="alias history" /> : null}
      {history.data ? (
        <>
          {inForce < 0 ? (
            <p class="alias-then">The alias {props.alias} did not exist yet when the response was produced.</p>
          ) : then.data ? (
            <p class="alias-then">
              The alias {props.alias} pointed at <strong>{targetText(then.data.target)}</strong> at that time (since move {then.data.since.seq}, <Time iso={then.data.since.at} />
              ).
              {then.data.target.version !== null && props.usedVersion !== null && String(then.data.target.version) !== String(props.usedVersion) ? (
                <span class="badge warn">the response used v{props.usedVersion}</span>
              ) : null}
            </p>
          ) : then.loading ? (
            <Loading what="where the alias pointed" />
          ) : null}
          <ol class="timeline alias-moves">
            {inForce < 0 ? <ResponseMarker at={props.at} /> : null}
            {shown.map((m, j) => (
              <Fragment key={m.seq}>
                <MoveItem move={m} current={from + j === inForce} after={isoToMs(m.at) > at} />
                {from + j === inForce ? <ResponseMarker at={props.at} /> : null}
              </Fragment>
            ))}
          </ol>
          <p class="hint">
            {moves.length > shown.length ? `${moves.length - shown.length} more moves; ` : ''}
            <a href={promptPage}>every move of {props.name}'s aliases</a>
          </p>
        </>
      ) : null}
    </section>
  );
}

function ResponseMarker(props: { at: string }) {
  return (
    <li class="response-marker">
      <em>
        This response, <Time iso={props.at} />
      </em>
    </li>
  );
}

function MoveItem(props: { move: AliasMove; current: boolean; after: boolean }) {
  const m = props.move;
  return (
    <li class={props.current ? 'current' : props.after ? 'after' : undefined} aria-current={props.current ? 'true' : undefined}>
      <div>
        <strong>Move {m.seq}</strong> <Time iso={m.at} />: {targetText(m.from)} → {targetText(m.to)}
        {m.rollback ? <span class="badge warn">rollback</span> : null}{' '}
        {props.current ? <span class="badge ok">in force at the response</span> : props.after ? <span class="badge">after the response</span> : null}
      </div>
      <div class="hint">
        by {m.actor}
        {m.reason ? `: ${m.reason}` : ''}
      </div>
    </li>
  );
}

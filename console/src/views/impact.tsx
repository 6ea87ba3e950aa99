import { useLocation } from 'preact-iso';
import { withQuery, type Query } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorBox, Loading, Page } from '../components/common.tsx';
import { IMPACT_PARAMS, ImpactForm, hasStart } from '../components/impact-form.tsx';
import { ImpactResult } from '../components/impact-result.tsx';
import type { ImpactAnswer } from '../types.ts';

// /impact?prompt=…&version=… | ?prompt=…&alias=…[&move=N] | ?model=…[&provider=…] | ?dataset=…
// | ?app=…&app_version=…, each with optional from and to: what a starting point touched. The
// URL is the query: the form writes it, and the answer is read from it.

export function ImpactView() {
  const session = useSession();
  const location = useLocation();
  const urlQuery: Record<string, string | undefined> = {};
  for (const k of IMPACT_PARAMS) {
    const v = location.query[k];
    if (v) urlQuery[k] = v;
  }
  const query: Query = { ...urlQuery, limit: 50 };
  const allowed = session.may('read');
  const impact = useApi<ImpactAnswer>(allowed && hasStart(urlQuery) ? '/v1/impact' : null, { query });

  if (!allowed) {
    return (
      <Page title="Impact">
        <p class="error" role="alert">
          Impact needs a key that may read lineage (role read, edit or admin).
        </p>
      </Page>
    );
  }
  return (
    <Page title="Impact">
      <p class="hint">Start from a prompt version, an alias move, a model, a dataset or an app version to see every response, app, conversation and evaluation it touched.</p>
      {/* Keyed by the URL: going back or opening a link shows that URL's query in the form. */}
      <ImpactForm key={location.url} query={urlQuery} onSubmit={(q) => location.route(withQuery('/impact', q))} />
      {!hasStart(urlQuery) ? null : impact.loading ? (
        <Loading what="impact" />
      ) : impact.error ? (
        <ErrorBox error={impact.error} />
      ) : impact.data ? (
        <ImpactResult key={location.url} answer={impact.data} query={query} urlQuery={urlQuery} />
      ) : null}
    </Page>
  );
}

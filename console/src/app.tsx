import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect } from 'preact/hooks';
import { SessionProvider, useSession } from './session.tsx';
import { Loading } from './components/common.tsx';
import { SignInView } from './views/signin.tsx';
import { ResponsesView } from './views/responses.tsx';
import { TraceView } from './views/trace.tsx';
import { ResponseView } from './views/response.tsx';
import { PromptsView } from './views/prompts.tsx';
import { PromptView } from './views/prompt.tsx';
import { VersionView } from './views/version.tsx';
import { CompareView } from './views/compare.tsx';
import { ProposalsView } from './views/proposals.tsx';
import { ProposalView } from './views/proposal.tsx';
import { ImpactView } from './views/impact.tsx';
import { AuditView } from './views/audit.tsx';
import { MonitorsView } from './views/monitors.tsx';
import { AlertsView } from './views/alerts.tsx';
import { AlertView } from './views/alert.tsx';
import { WhatChangedView } from './views/what-changed.tsx';
import { NotFoundView } from './views/not-found.tsx';

// Every view has its own URL, so a link pasted into an incident channel opens the same view with
// the same filters. The server answers these paths with this app (src/api/console.ts lists them).

export function App() {
  return (
    <LocationProvider>
      <SessionProvider>
        <Shell />
      </SessionProvider>
    </LocationProvider>
  );
}

function Shell() {
  const session = useSession();
  const location = useLocation();
  const signedIn = session.info !== null;
  const onSignIn = location.path === '/login';

  useEffect(() => {
    if (session.checking) return;
    if (!signedIn && !onSignIn) location.route(`/login?next=${encodeURIComponent(location.url)}`, true);
  }, [session.checking, signedIn, onSignIn, location.url]);

  if (session.checking) return <Loading what="session" />;
  if (!signedIn) return <SignInView />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav />
      <main id="main" tabIndex={-1}>
        {/* The project is part of every view's key: switching it loads everything again. */}
        <Router key={session.project}>
          <Route path="/" component={Home} />
          <Route path="/login" component={Home} />
          <Route path="/responses" component={ResponsesView} />
          <Route path="/responses/:responseId" component={ResponseView} />
          <Route path="/traces/:traceId" component={TraceView} />
          <Route path="/prompts" component={PromptsView} />
          <Route path="/prompts/:name" component={PromptView} />
          <Route path="/prompts/:name/versions/:version" component={VersionView} />
          <Route path="/prompts/:name/compare" component={CompareView} />
          <Route path="/prompts/:name/proposals" component={ProposalsView} />
          <Route path="/prompts/:name/proposals/:id" component={ProposalView} />
          <Route path="/impact" component={ImpactView} />
          <Route path="/what-changed" component={WhatChangedView} />
          <Route path="/monitors" component={MonitorsView} />
          <Route path="/alerts" component={AlertsView} />
          <Route path="/alerts/:id" component={AlertView} />
          <Route path="/audit" component={AuditView} />
          <Route default component={NotFoundView} />
        </Router>
      </main>
    </>
  );
}

/** `/` and a signed-in `/login` go on to where the reader was headed, or to the responses. */
function Home() {
  const location = useLocation();
  useEffect(() => {
    const next = location.query.next;
    location.route(next && next.startsWith('/') && !next.startsWith('//') ? next : '/responses', true);
  }, []);
  return <Loading />;
}

function Nav() {
  const session = useSession();
  const location = useLocation();
  const info = session.info!;
  const links: Array<[string, string, boolean]> = [
    ['/responses', 'Responses', session.may('read')],
    ['/prompts', 'Prompts', session.may('prompts')],
    ['/impact', 'Impact', session.may('read')],
    ['/what-changed', 'What changed', session.may('read')],
    ['/monitors', 'Monitors', session.may('read')],
    ['/alerts', 'Alerts', session.may('read')],
    ['/audit', 'Audit', session.may('admin')],
  ];
  return (
    <header class="topbar">
      <a class="brand" href="/responses">
        Promptline
      </a>
      <nav aria-label="Main">
        <ul>
          {links
            .filter(([, , shown]) => shown)
            .map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={location.path.startsWith(href) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
        </ul>
      </nav>
      <div class="who">
        {info.projects.length > 1 ? (
          <label>
            Project{' '}
            <select value={session.project} onChange={(e) => session.switchProject(e.currentTarget.value)}>
              {info.projects.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <span class="project" title="project">
            {session.project}
          </span>
        )}
        <span class="key" title={`key ${info.keyId}`}>
          {info.name} · {info.role}
          {info.promote && info.role !== 'admin' ? ' + promote' : ''}
        </span>
        <button
          type="button"
          onClick={() => {
            session.signOut();
            location.route('/login', true);
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}

import { Page } from '../components/common.tsx';

export function NotFoundView() {
  return (
    <Page title="Not found">
      <p>
        No view has this address. Go to the <a href="/responses">responses</a> or the <a href="/prompts">prompts</a>.
      </p>
    </Page>
  );
}

// The console's top level: the sign-in page, the OAuth callback, and once
// signed in, the shell around the page of the current path.
import { Alert, Button, Center, Loader, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { Provider } from 'urql';
import { Router } from 'wouter';
import { createApiClient } from './api.js';
import { completeSignIn, currentSession, lastCommunity, rememberedCommunity, signIn } from './auth.js';
import { Shell } from './shell.js';
import { ViewerProvider } from './viewer.js';

/** The first page: which community to sign in to. */
function SignInPage() {
  const [community, setCommunity] = useState(rememberedCommunity);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · Meridian console';
  }, []);
  const start = (slug: string) => {
    // PKCE needs the browser's Web Crypto, which only a secure context has.
    if (!window.isSecureContext) {
      setError('Sign-in needs a secure page: open the console over HTTPS, or at http://localhost on the hub’s own machine.');
      return;
    }
    setBusy(true);
    setError(undefined);
    signIn(slug.trim(), '/console/').catch((e: unknown) => {
      setBusy(false);
      setError(`Could not reach the sign-in of community “${slug}”: ${e instanceof Error ? e.message : String(e)}`);
    });
  };
  // `/console/?community=<slug>`: a link that names the community signs in at once.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on the first render
  useEffect(() => {
    const given = new URLSearchParams(location.search).get('community');
    if (given) start(given);
  }, []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (community.trim()) start(community);
  };
  return (
    <main>
      <Center mih="100vh">
        <Paper withBorder shadow="sm" p="xl" w={420}>
          <form onSubmit={submit}>
            <Stack>
              <Title order={1} size="h2">
                Meridian console
              </Title>
              <Text>Sign in with your community’s account. The console remembers the community on this computer.</Text>
              {error && (
                <Alert color="red" role="alert">
                  {error}
                </Alert>
              )}
              <TextInput
                label="Community"
                description="The community’s short name (slug), as in /oidc/<community>."
                value={community}
                onChange={(e) => setCommunity(e.currentTarget.value)}
                required
                autoFocus
                autoComplete="organization"
              />
              <Button type="submit" loading={busy}>
                Sign in
              </Button>
            </Stack>
          </form>
        </Paper>
      </Center>
    </main>
  );
}

/** `/console/callback`: completes the code flow, then goes where the user was. */
function CallbackPage() {
  const [error, setError] = useState<string>();
  useEffect(() => {
    document.title = 'Signing in · Meridian console';
    completeSignIn()
      .then((returnTo) => location.replace(returnTo))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, []);
  return (
    <main>
      <Center mih="100vh">
        {error ? (
          <Alert color="red" title="Sign-in failed" role="alert" maw={520}>
            {error} <a href="/console/">Start again</a>
          </Alert>
        ) : (
          <Loader aria-label="Signing in" />
        )}
      </Center>
    </main>
  );
}

function Loading({ error }: { error?: string }) {
  return (
    <main>
      <Center mih="100vh">
        {error ? (
          <Alert color="red" title="The console could not load" role="alert" maw={520}>
            {error} <a href="/console/">Reload</a>
          </Alert>
        ) : (
          <Loader aria-label="Loading" />
        )}
      </Center>
    </main>
  );
}

function SignedIn() {
  const client = useMemo(createApiClient, []);
  return (
    <Provider value={client}>
      <ViewerProvider fallback={(state) => <Loading {...state} />}>
        <Router base="/console">
          <Shell />
        </Router>
      </ViewerProvider>
    </Provider>
  );
}

export function App() {
  if (location.pathname === '/console/callback') return <CallbackPage />;
  if (currentSession()) return <SignedIn />;
  // A session that expired in this tab signs in again (silently while the provider's session lives).
  const community = lastCommunity();
  if (community) {
    void signIn(community);
    return <Loading />;
  }
  return <SignInPage />;
}

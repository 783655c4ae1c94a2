// The frame of every signed-in page: a header (acting role, office, sign-out),
// the navigation the acting role may use, and the page itself.
import { AppShell, Burger, Button, Group, NativeSelect, NavLink, ScrollArea, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ComponentType } from 'react';
import { gql, useQuery } from 'urql';
import { Link, Route, Switch, useLocation } from 'wouter';
import { actingRole, setActingRole } from './api.js';
import { signOut } from './auth.js';
import { AccountPage, AccountsPage } from './pages/accounts.js';
import { AuditPage } from './pages/audit.js';
import { DirectoryPage, PersonPage } from './pages/directory.js';
import { EventStreamsPage, RelyingPartiesPage } from './pages/federation.js';
import { GroupPage, GroupsPage } from './pages/groups.js';
import { HomePage } from './pages/home.js';
import { JmlPage } from './pages/jml.js';
import { MyAccountPage, MyConsentsPage } from './pages/me.js';
import { SchemaExtensionsPage, SelfServicePage, TokensPage } from './pages/settings.js';
import { SourcesPage } from './pages/sources.js';
import { TargetPage, TargetsPage } from './pages/targets.js';
import { roleName, useViewer } from './viewer.js';

interface Entry {
  path: string;
  label: string;
  /** The permission action the page needs; none: every signed-in user. */
  action?: string;
  page: ComponentType;
  /** Pages below an entry (details), matched but not listed. */
  children?: { path: string; page: ComponentType }[];
}

/** The console's pages in navigation order, each behind the action its main query needs. */
const ENTRIES: Entry[] = [
  { path: '/', label: 'Home', page: HomePage },
  {
    path: '/accounts',
    label: 'Accounts',
    action: 'directory.read',
    page: AccountsPage,
    children: [{ path: '/accounts/:id', page: AccountPage }],
  },
  { path: '/groups', label: 'Groups', action: 'directory.read', page: GroupsPage, children: [{ path: '/groups/:id', page: GroupPage }] },
  { path: '/joiners-movers-leavers', label: 'Joiners, movers, leavers', action: 'hr.write', page: JmlPage },
  { path: '/tokens', label: 'Tokens', action: 'token.manage', page: TokensPage },
  { path: '/schema-extensions', label: 'Schema extensions', action: 'settings.read', page: SchemaExtensionsPage },
  { path: '/self-service', label: 'Self-service policy', action: 'settings.read', page: SelfServicePage },
  {
    path: '/targets',
    label: 'Replication targets',
    action: 'replication.read',
    page: TargetsPage,
    children: [{ path: '/targets/:name', page: TargetPage }],
  },
  { path: '/sources', label: 'Inbound sources', action: 'replication.read', page: SourcesPage },
  {
    path: '/directory',
    label: 'Global directory',
    action: 'people.read',
    page: DirectoryPage,
    children: [{ path: '/directory/people/:id', page: PersonPage }],
  },
  { path: '/relying-parties', label: 'Relying parties', action: 'sso.read', page: RelyingPartiesPage },
  { path: '/event-streams', label: 'Event streams', action: 'sso.read', page: EventStreamsPage },
  { path: '/audit', label: 'Audit log', action: 'audit.read', page: AuditPage },
  { path: '/me', label: 'My account', page: MyAccountPage },
  { path: '/me/consents', label: 'My consents', page: MyConsentsPage },
];

const TENANTS_QUERY = gql`
  query ConsoleOffices($community: String) {
    tenants(community: $community, first: 200) { edges { node { slug name } } }
  }
`;

/** The office picker of a community-level role (an office-level role has its own office). */
function OfficePicker() {
  const { viewer, office, setOffice, can } = useViewer();
  const [{ data }] = useQuery<{ tenants: { edges: { node: { slug: string; name: string } }[] } }>({
    query: TENANTS_QUERY,
    variables: { community: viewer.community?.slug },
    pause: viewer.tenant !== null || !can('tenant.read'),
  });
  if (viewer.tenant) return <Text size="sm">Office: {viewer.tenant.name}</Text>;
  const offices = data?.tenants.edges.map((e) => e.node) ?? [];
  if (offices.length === 0) return null;
  return (
    <NativeSelect
      label="Office"
      size="xs"
      value={office ?? ''}
      onChange={(e) => setOffice(e.currentTarget.value || undefined)}
      data={[{ value: '', label: 'Choose an office' }, ...offices.map((o) => ({ value: o.slug, label: o.name }))]}
    />
  );
}

function RoleSwitcher() {
  const { viewer } = useViewer();
  const roles = [...new Set(viewer.grants.map((g) => g.role))];
  if (roles.length === 0) return <Text size="sm">{roleName(viewer.actingRole)}</Text>;
  return (
    <NativeSelect
      label="Acting as"
      size="xs"
      value={actingRole() ?? 'end_user'}
      onChange={(e) => {
        setActingRole(e.currentTarget.value);
        // A new role sees other data: start from its home page with an empty cache.
        location.assign('/console/');
      }}
      data={[{ value: 'end_user', label: roleName('end_user') }, ...roles.map((r) => ({ value: r, label: roleName(r) }))]}
    />
  );
}

export function Shell() {
  const { viewer, can } = useViewer();
  const [opened, { toggle, close }] = useDisclosure();
  const [location] = useLocation();
  const entries = ENTRIES.filter((e) => !e.action || can(e.action));
  const current = (path: string) => (path === '/' ? location === '/' : location === path || location.startsWith(`${path}/`));
  return (
    <AppShell header={{ height: 64 }} navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Show navigation" />
            <Text fw={700} component={Link} href="/" c="inherit" td="none">
              Meridian · {viewer.community?.name ?? 'console'}
            </Text>
          </Group>
          <Group wrap="nowrap" align="flex-end" gap="sm">
            <OfficePicker />
            <RoleSwitcher />
            <Text size="sm" aria-label="Signed in as">
              {viewer.account?.displayName ?? viewer.account?.userName ?? ''}
            </Text>
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Pages">
        <ScrollArea>
          {entries.map((entry) => (
            <NavLink
              key={entry.path}
              component={Link}
              href={entry.path}
              label={entry.label}
              variant="filled"
              onClick={close}
              active={current(entry.path) && !entries.some((e) => e !== entry && e.path.startsWith(`${entry.path}/`) && current(e.path))}
              aria-current={current(entry.path) ? 'page' : undefined}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <Switch>
          {entries.flatMap((entry) => [
            ...(entry.children ?? []).map((child) => <Route key={child.path} path={child.path} component={child.page} />),
            <Route key={entry.path} path={entry.path} component={entry.page} />,
          ])}
          <Route>
            <Text role="alert">This page does not exist, or your role may not open it.</Text>
          </Route>
        </Switch>
      </AppShell.Main>
    </AppShell>
  );
}

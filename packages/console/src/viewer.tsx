// Who is signed in and what the acting role may do: the `viewer` query. The
// console shows only the pages and buttons whose permission action the acting
// role holds; the API still decides every request.
import { createContext, type ReactNode, useContext, useEffect, useState } from 'react';
import { gql, useQuery } from 'urql';
import { actingRole, errorMessage, setActingRole } from './api.js';

interface Named {
  id?: string;
  slug: string;
  name: string;
}

interface Grant {
  id: string;
  role: string;
  level: string;
  tenant: Named | null;
  community: Named | null;
}

export interface Viewer {
  actingRole: string | null;
  level: string;
  scopes: string[];
  allowedActions: string[];
  tenant: Named | null;
  community: Named | null;
  account: { id: string; userName: string; displayName: string | null } | null;
  grants: Grant[];
}

const VIEWER_QUERY = gql`
  query Viewer {
    viewer {
      actingRole
      level
      scopes
      allowedActions
      tenant { id slug name }
      community { id slug name }
      account { id userName displayName }
      grants { id role level tenant { slug name } community { slug name } }
    }
  }
`;

interface ViewerContextValue {
  viewer: Viewer;
  /** Whether the acting role may take a permission action (packages/core/src/tenancy/permissions.ts). */
  can: (action: string) => boolean;
  /** The office the pages work on: the role's own, or the one a community-level role picked. */
  office: string | undefined;
  setOffice: (slug: string | undefined) => void;
}

const ViewerContext = createContext<ViewerContextValue | undefined>(undefined);

/** The viewer of the page; only inside {@link ViewerProvider}. */
export function useViewer(): ViewerContextValue {
  const value = useContext(ViewerContext);
  if (!value) throw new Error('useViewer outside ViewerProvider');
  return value;
}

const OFFICE_KEY = 'meridian.console.office';

/** Loads the viewer, then renders its children with it; a failure is shown instead. */
export function ViewerProvider({ children, fallback }: { children: ReactNode; fallback: (state: { error?: string }) => ReactNode }) {
  const [{ data, error, fetching }, reload] = useQuery<{ viewer: Viewer }>({ query: VIEWER_QUERY, requestPolicy: 'network-only' });
  const [picked, setPicked] = useState<string | undefined>(() => sessionStorage.getItem(OFFICE_KEY) ?? undefined);
  // Someone who holds console roles starts in the first of them; "Myself" in the header goes back to end_user.
  const first = actingRole() === undefined ? data?.viewer.grants[0]?.role : undefined;
  useEffect(() => {
    if (!first) return;
    setActingRole(first);
    reload({ requestPolicy: 'network-only' });
  }, [first, reload]);
  // The acting role was revoked (the hub refuses the Meridian-Role header): act as oneself, whose roles the viewer then lists.
  const revoked =
    (error?.graphQLErrors.some((e) => e.extensions?.code === 'FORBIDDEN') ?? false) && (actingRole() ?? 'end_user') !== 'end_user';
  useEffect(() => {
    if (!revoked) return;
    setActingRole('end_user');
    reload({ requestPolicy: 'network-only' });
  }, [revoked, reload]);
  if (!data?.viewer || first || revoked)
    return fallback(fetching || first || revoked ? {} : { error: errorMessage(error) ?? 'The hub did not say who you are.' });
  const viewer = data.viewer;
  const office = viewer.tenant?.slug ?? picked;
  const value: ViewerContextValue = {
    viewer,
    can: (action) => viewer.allowedActions.includes(action),
    office,
    setOffice: (slug) => {
      if (slug) sessionStorage.setItem(OFFICE_KEY, slug);
      else sessionStorage.removeItem(OFFICE_KEY);
      setPicked(slug);
    },
  };
  return <ViewerContext value={value}>{children}</ViewerContext>;
}

const ROLE_NAMES: Record<string, string> = {
  platform_admin: 'Platform admin',
  community_admin: 'Community admin',
  office_admin: 'Office admin',
  hr_reader: 'HR (read)',
  hr_provider: 'HR',
  auditor: 'Auditor',
  end_user: 'Myself',
};

/** A role's name for people. */
export function roleName(role: string | null): string {
  if (role === null) return 'a token of its own scopes';
  return ROLE_NAMES[role] ?? role;
}

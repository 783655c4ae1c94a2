// An offboarding plan (the dry run of offboardAccount) in words, with the whole plan behind a toggle.
import { Button, List, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { JsonBlock, When } from './ui.js';

interface Ref {
  id: string;
  userName: string;
}

/** The fields of the core's OffboardingPlan the console reads; the rest shows in the raw plan. */
interface Plan {
  leaver?: Ref;
  successor?: Ref;
  groups?: { groupId: string; displayName: string; action: string; successorAlreadyMember: boolean }[];
  entitlements?: { value: string; display?: string; successorHas: boolean }[];
  roles?: { value: string; display?: string; successorHas: boolean }[];
  directReports?: Ref[];
  transfers?: { targetId: string; target: string }[];
  skippedTargets?: { targetId: string; target: string; reason: string }[];
  runAt?: string;
  deleteAt?: string;
}

const SKIPPED: Record<string, string> = {
  not_capable: 'its connector cannot transfer ownership',
  leaver_not_at_target: 'the leaver is not there',
};

function Section({ title, items }: { title: string; items: string[] }) {
  return (
    <div>
      <Title order={3} size="h6">
        {title}
      </Title>
      {items.length === 0 ? (
        <Text size="sm">None.</Text>
      ) : (
        <List size="sm">
          {items.map((item) => (
            <List.Item key={item}>{item}</List.Item>
          ))}
        </List>
      )}
    </div>
  );
}

/** What an offboarding would do, as its dry run answered. */
export function OffboardPlan({ plan }: { plan: unknown }) {
  const [raw, setRaw] = useState(false);
  const p = (plan ?? {}) as Plan;
  const values = (list: Plan['roles']) =>
    (list ?? []).map((v) => `${v.display ?? v.value}${v.successorHas ? ' (the successor has it already)' : ''}`);
  return (
    <Stack gap="xs" aria-label="Offboarding plan (dry run)" role="region">
      <Text>
        <strong>{p.leaver?.userName}</strong> leaves; <strong>{p.successor?.userName}</strong> takes over. The handover runs{' '}
        <When at={p.runAt} />; the account is deleted <When at={p.deleteAt} />.
      </Text>
      <Section
        title="Groups"
        items={(p.groups ?? []).map(
          (g) =>
            `${g.displayName}: ${g.action === 'move' ? (g.successorAlreadyMember ? 'the leaver leaves (the successor is a member)' : 'moves to the successor') : 'stays with the leaver until deletion'}`,
        )}
      />
      <Section title="Entitlements" items={values(p.entitlements)} />
      <Section title="Roles" items={values(p.roles)} />
      <Section title="Direct reports (their manager becomes the successor)" items={(p.directReports ?? []).map((r) => r.userName)} />
      <Section
        title="Owned objects at targets"
        items={[
          ...(p.transfers ?? []).map((t) => `${t.target}: transferred to the successor`),
          ...(p.skippedTargets ?? []).map((t) => `${t.target}: nothing transferred, ${SKIPPED[t.reason] ?? t.reason}`),
        ]}
      />
      <Button variant="default" size="compact-sm" w="fit-content" aria-expanded={raw} onClick={() => setRaw(!raw)}>
        {raw ? 'Hide the whole plan' : 'Show the whole plan'}
      </Button>
      {raw && <JsonBlock value={plan} label="The whole offboarding plan" />}
    </Stack>
  );
}

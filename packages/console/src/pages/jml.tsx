// Joiner, mover and leaver forms for HR: createAccount, moveAccount, offboardAccount.
import { Alert, Button, Card, Group, SimpleGrid, Stack, Tabs, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { gql, useMutation } from 'urql';
import { Link } from 'wouter';
import { OffboardPlan } from '../plan.js';
import { ErrorNotice, NeedsOffice, PageHeader } from '../ui.js';

const JOIN = gql`
  mutation ConsoleJoin($tenant: String!, $input: AccountInput!) { createAccount(tenant: $tenant, input: $input) { id userName } }
`;
const MOVE = gql`
  mutation ConsoleMove($tenant: String!, $id: ID!, $title: String, $department: String, $manager: ID) {
    moveAccount(tenant: $tenant, id: $id, title: $title, department: $department, manager: $manager) { id userName title department }
  }
`;
const LEAVE = gql`
  mutation ConsoleLeave($tenant: ID!, $input: OffboardAccountInput!) {
    offboardAccount(tenant: $tenant, input: $input) { dryRun plan offboarding { id status runAt } }
  }
`;

function useForm<T extends Record<string, string>>(initial: T) {
  const [values, setValues] = useState(initial);
  const field = (name: keyof T & string, label: string, required = false) => (
    <TextInput
      label={label}
      required={required}
      value={values[name]}
      onChange={(e) => setValues({ ...values, [name]: e.currentTarget.value })}
    />
  );
  const given = () =>
    Object.fromEntries(
      Object.entries(values)
        .filter(([, v]) => v.trim() !== '')
        .map(([k, v]) => [k, v.trim()]),
    );
  return { values, field, given };
}

function Joiner({ office }: { office: string }) {
  const form = useForm({
    userName: '',
    givenName: '',
    familyName: '',
    displayName: '',
    emails: '',
    title: '',
    department: '',
    employeeNumber: '',
    manager: '',
  });
  const [result, join] = useMutation<{ createAccount: { id: string; userName: string } }>(JOIN);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const { emails, ...rest } = form.given();
    void join({ tenant: office, input: { ...rest, ...(emails ? { emails: [emails] } : {}) } });
  };
  return (
    <form onSubmit={submit} aria-label="Joiner">
      <Stack>
        <ErrorNotice error={result.error} title="Not created" />
        {result.data && (
          <Alert color="green" role="status">
            <Link href={`/accounts/${result.data.createAccount.id}`}>{result.data.createAccount.userName}</Link> joined.
          </Alert>
        )}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {form.field('userName', 'User name', true)}
          {form.field('emails', 'Email')}
          {form.field('givenName', 'Given name')}
          {form.field('familyName', 'Family name')}
          {form.field('displayName', 'Display name')}
          {form.field('title', 'Title')}
          {form.field('department', 'Department')}
          {form.field('employeeNumber', 'Employee number')}
          {form.field('manager', 'Manager (account id)')}
        </SimpleGrid>
        <Button type="submit" w="fit-content" loading={result.fetching}>
          Create the account
        </Button>
      </Stack>
    </form>
  );
}

function Mover({ office }: { office: string }) {
  const form = useForm({ id: '', title: '', department: '', manager: '' });
  const [result, move] = useMutation<{ moveAccount: { userName: string; title: string | null; department: string | null } }>(MOVE);
  return (
    <form
      aria-label="Mover"
      onSubmit={(e) => {
        e.preventDefault();
        void move({ tenant: office, ...form.given() });
      }}
    >
      <Stack>
        <ErrorNotice error={result.error} title="Not moved" />
        {result.data && (
          <Alert color="green" role="status">
            {result.data.moveAccount.userName} is now {result.data.moveAccount.title ?? 'without title'} in{' '}
            {result.data.moveAccount.department ?? 'no department'}.
          </Alert>
        )}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {form.field('id', 'Account id', true)}
          {form.field('title', 'New title')}
          {form.field('department', 'New department')}
          {form.field('manager', 'New manager (account id)')}
        </SimpleGrid>
        <Button type="submit" w="fit-content" loading={result.fetching}>
          Move
        </Button>
      </Stack>
    </form>
  );
}

function Leaver({ office }: { office: string }) {
  const form = useForm({ user: '', successor: '', graceDays: '' });
  const [result, leave] = useMutation<{
    offboardAccount: { dryRun: boolean; plan: unknown; offboarding: { status: string; runAt: string } | null };
  }>(LEAVE);
  const run = (dryRun: boolean) => {
    const { graceDays, ...rest } = form.given();
    void leave({ tenant: office, input: { ...rest, dryRun, ...(graceDays ? { graceDays: Number(graceDays) } : {}) } });
  };
  const answer = result.data?.offboardAccount;
  return (
    <form
      aria-label="Leaver"
      onSubmit={(e) => {
        e.preventDefault();
        run(true);
      }}
    >
      <Stack>
        <ErrorNotice error={result.error} title="Refused" />
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          {form.field('user', 'Leaver (user name or id)', true)}
          {form.field('successor', 'Successor (user name or id)', true)}
          {form.field('graceDays', 'Grace period (days)')}
        </SimpleGrid>
        <Group>
          <Button type="submit" variant="default" loading={result.fetching}>
            Preview (dry run)
          </Button>
          <Button color="red" disabled={!answer?.dryRun} onClick={() => run(false)}>
            Offboard
          </Button>
        </Group>
        {answer?.dryRun && <OffboardPlan plan={answer.plan} />}
        {answer && !answer.dryRun && (
          <Alert color="green" role="status">
            Offboarding {answer.offboarding?.status}.
          </Alert>
        )}
      </Stack>
    </form>
  );
}

export function JmlPage() {
  return (
    <NeedsOffice>
      {(office) => (
        <>
          <PageHeader title="Joiners, movers, leavers" description="The HR changes of one office." />
          <Card withBorder>
            <Tabs defaultValue="joiner">
              <Tabs.List mb="md">
                <Tabs.Tab value="joiner">Joiner</Tabs.Tab>
                <Tabs.Tab value="mover">Mover</Tabs.Tab>
                <Tabs.Tab value="leaver">Leaver</Tabs.Tab>
              </Tabs.List>
              <Tabs.Panel value="joiner">
                <Joiner office={office} />
              </Tabs.Panel>
              <Tabs.Panel value="mover">
                <Mover office={office} />
              </Tabs.Panel>
              <Tabs.Panel value="leaver">
                <Leaver office={office} />
              </Tabs.Panel>
            </Tabs>
          </Card>
        </>
      )}
    </NeedsOffice>
  );
}

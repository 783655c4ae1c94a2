// Small building blocks shared by the pages.
import { Alert, Code, Group, Stack, Text, Title } from '@mantine/core';
import { type ReactNode, useEffect } from 'react';
import type { CombinedError } from 'urql';
import { errorMessage } from './api.js';
import { useViewer } from './viewer.js';

/** The page's heading and the document title (one per page, for screen readers and the tab). */
export function PageHeader({ title, description, actions }: { title: string; description?: string; actions?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Meridian console`;
  }, [title]);
  return (
    <Group justify="space-between" align="flex-start" mb="md">
      <Stack gap={4}>
        <Title order={1} size="h2">
          {title}
        </Title>
        {description && <Text c="dimmed">{description}</Text>}
      </Stack>
      {actions}
    </Group>
  );
}

/** A failed operation, in the server's words. */
export function ErrorNotice({ error, title = 'The request failed' }: { error: CombinedError | undefined | string; title?: string }) {
  const message = typeof error === 'string' ? error : errorMessage(error);
  if (!message) return null;
  return (
    <Alert color="red" title={title} role="alert" mb="md">
      {message}
    </Alert>
  );
}

/** JSON as an indented, scrollable block. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    // Focusable, so that a keyboard can scroll it (WCAG 2.1.1); a region named by its label.
    <Code
      block
      tabIndex={0}
      role="region"
      aria-label={label}
      style={{ maxHeight: 320, overflow: 'auto', whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
    >
      {value === undefined || value === null ? '(none)' : JSON.stringify(value, null, 2)}
    </Code>
  );
}

/** Renders its children only when an office is chosen (the pages of one office need one). */
export function NeedsOffice({ children }: { children: (office: string) => ReactNode }) {
  const { office } = useViewer();
  if (!office) return <Alert title="Choose an office">Pick the office to work on in the header (Office).</Alert>;
  return <>{children(office)}</>;
}

/** A date-time in the user's locale. */
export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <>—</>;
  return <time dateTime={at}>{new Date(at).toLocaleString()}</time>;
}

/** Downloads a value as a JSON file, built in the browser. */
export function downloadJson(name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Building blocks of the console's create/edit forms: a refusal shown at the
// field it names, a confirmation before a deletion, and a secret shown once.
import { Alert, Button, CopyButton, Group, Modal, Stack, Text, Textarea } from '@mantine/core';
import { type ReactNode, useRef } from 'react';
import type { CombinedError } from 'urql';
import { errorField, errorMessage } from './api.js';

/**
 * Where to show a refused save: at the form field the server's `extensions.field`
 * names, or over the form. `paths` maps the server's paths (an `input.` prefix is
 * ignored; a deeper path such as `config.users.base` falls to its closest listed
 * parent) to the form's field names.
 */
export function refusal<F extends string>(
  error: CombinedError | undefined,
  paths: Readonly<Record<string, F>>,
): { field?: F; message?: string; form?: string } {
  const message = errorMessage(error);
  if (!message) return {};
  let path = errorField(error)?.replace(/^input\./, '');
  while (path) {
    const field = paths[path];
    if (field) return { field, message };
    const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
    path = cut > 0 ? path.slice(0, cut) : undefined;
  }
  return { form: message };
}

/** The message of {@link refusal} for one field, for a Mantine input's `error`. */
export function errorAt<F extends string>(found: { field?: F; message?: string }, field: F): string | undefined {
  return found.field === field ? found.message : undefined;
}

/** The refusal that names no field of the form, over it. */
export function FormRefusal({ message, title }: { message: string | undefined; title: string }) {
  if (!message) return null;
  return (
    <Alert color="red" role="alert" title={title}>
      {message}
    </Alert>
  );
}

/**
 * The last defined value: what a closing dialog keeps showing (its name
 * included) while it fades out, after the page has cleared its subject.
 */
export function useHeld<T>(value: T | undefined): T | undefined {
  const held = useRef(value);
  if (value !== undefined) held.current = value;
  return held.current;
}

/** One line of text per item, for lists typed into a textarea (URIs, attributes). */
export function lines(text: string): string[] {
  return text
    .split(/[\n,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Asks before a destructive step: says what will happen, then runs it.
 * The dialog is named by its title; Cancel has the focus first.
 */
export function ConfirmDialog({
  opened,
  title,
  children,
  confirm,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirm: string;
  busy: boolean;
  error: CombinedError | undefined;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const shown = useHeld(opened ? { title, children } : undefined);
  return (
    <Modal opened={opened} onClose={onClose} title={shown?.title} closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        {shown?.children}
        <FormRefusal message={errorMessage(error)} title="Refused" />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button color="red" loading={busy} onClick={onConfirm}>
            {confirm}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/**
 * A secret the hub returns only this once (a client secret): shown with a copy
 * button until the dialog is closed, after which no page shows it again.
 */
export function SecretOnce({
  secret,
  title,
  label,
  children,
  onClose,
}: {
  secret: string | undefined;
  title: string;
  label: string;
  children?: ReactNode;
  onClose: () => void;
}) {
  const shown = useHeld(secret === undefined ? undefined : { secret, title, children });
  return (
    <Modal opened={secret !== undefined} onClose={onClose} title={shown?.title} closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        {shown?.children}
        {/* No spelling check: a browser's enhanced spell check may send a field's text to a remote service. */}
        <Textarea
          label={label}
          readOnly
          autosize
          spellCheck={false}
          autoComplete="off"
          value={shown?.secret ?? ''}
          styles={{ input: { fontFamily: 'monospace' } }}
        />
        <Text size="sm">Copy it now: Meridian keeps only its hash and will not show it again.</Text>
        <Group justify="flex-end">
          <CopyButton value={shown?.secret ?? ''}>
            {({ copied, copy }) => (
              <>
                {/* Said to screen readers once the copy is done. */}
                <Text size="sm" role="status">
                  {copied ? 'Copied to the clipboard.' : ''}
                </Text>
                <Button variant="default" onClick={copy}>
                  Copy the {label.toLowerCase()}
                </Button>
              </>
            )}
          </CopyButton>
          <Button onClick={onClose}>I have copied it</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

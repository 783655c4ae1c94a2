import { describe, expect, it } from '@jest/globals';
import type { Command } from 'commander';
import { buildCli } from '../src/cli/main.js';

// `pnpm meridian --help` and `pnpm meridian <command> --help` list every subcommand with its
// description: a command without one shows up as a bare name. Pure: no database, nothing runs.

/** Every command under `command`, depth first, with its path from the root (`meridian target create`). */
function walk(command: Command, path: string[] = []): { path: string; command: Command }[] {
  const here = [...path, command.name()];
  return [{ path: here.join(' '), command }, ...command.commands.flatMap((child) => walk(child, here))];
}

describe('meridian --help', () => {
  const commands = walk(buildCli());

  it('walks the whole tree', () => {
    const paths = commands.map((c) => c.path);
    expect(paths).toEqual(expect.arrayContaining(['meridian', 'meridian token create', 'meridian directory export create']));
    expect(paths.length).toBeGreaterThan(50);
  });

  it('gives every command a description', () => {
    const missing = commands.filter(({ command }) => command.description().trim() === '').map((c) => c.path);
    expect(missing).toEqual([]);
  });

  it("shows each subcommand's description in its parent's help", () => {
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    const absent = commands.flatMap(({ path, command }) => {
      const help = flat(command.helpInformation());
      return command.commands.filter((child) => !help.includes(flat(child.description()))).map((child) => `${path} ${child.name()}`);
    });
    expect(absent).toEqual([]);
  });
});

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

// Every relative link in the README and docs/ leads to a file of the repository and, with a #fragment, to a
// heading of that file (GitHub's anchors): a renamed ADR or section must not leave a dead link behind.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a markdown file's headings, numbered as GitHub numbers repeats (`name`, `name-1`, ...). */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const title = fenced ? undefined : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (!title) continue;
    const base = anchorOf(title);
    const count = seen.get(base) ?? 0;
    anchors.add(count === 0 ? base : `${base}-${count}`);
    seen.set(base, count + 1);
  }
  return anchors;
}

/** The relative links of a markdown text outside code: `[text](target)`, without http(s), mailto or pure anchors handled apart. */
function linksOf(text: string): string[] {
  const withoutCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string);
}

const files = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))];

describe('links in the README and docs/', () => {
  it.each(files.map((file) => [relative(root, file), file]))('%s: every relative link and anchor resolves', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    const dead: string[] = [];
    for (const link of linksOf(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
      const [path = '', fragment] = link.split('#');
      const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        dead.push(`${link}: no file ${relative(root, target)}`);
        continue;
      }
      if (fragment && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
        dead.push(`${link}: no heading #${fragment} in ${relative(root, target)}`);
      }
    }
    expect(dead).toEqual([]);
  });
});

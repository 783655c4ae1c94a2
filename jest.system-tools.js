// Some tests drive a program of the operating system: Chromium (sign-in and console journeys in a real
// browser) and OpenLDAP's slapd (the LDAP connector against a real directory). `npm test` on a machine with
// only Node and npm has neither: there those test files are left out of the run, and the run says which and
// how to install what they need. CI (CI=true; bash .ci/run installs both) never leaves them out: a missing
// program fails them there. The explorer's test skips its browser part itself (it has other tests).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SLAPD = ['/usr/sbin/slapd', '/usr/local/sbin/slapd', '/usr/local/libexec/slapd', '/usr/libexec/slapd'];

const TOOLS = [
  {
    name: 'Chromium (/usr/bin/chromium)',
    present: () => existsSync('/usr/bin/chromium'),
    usedBy: /\blaunchChromium\(/,
    install: 'apt-get install -y --no-install-recommends chromium',
  },
  {
    name: 'OpenLDAP slapd',
    present: () => SLAPD.some((path) => existsSync(path)) && existsSync('/etc/ldap/schema/inetorgperson.schema'),
    usedBy: /\bstartSlapd\(/,
    install: 'apt-get install -y slapd ldap-utils',
  },
];

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The test files to leave out because a program they drive is missing (none under CI=true), as
 * testPathIgnorePatterns, and one warning per missing program naming them.
 */
export function testsWithoutTheirPrograms(root, packages) {
  if (process.env.CI === 'true') return { ignore: [], warnings: [] };
  const missing = TOOLS.filter((tool) => !tool.present());
  if (missing.length === 0) return { ignore: [], warnings: [] };
  const files = packages.flatMap((name) => ['src', 'test'].flatMap((part) => testFiles(join(root, 'packages', name, part))));
  const ignore = [];
  const warnings = [];
  for (const tool of missing) {
    const skipped = files.filter((file) => tool.usedBy.test(readFileSync(file, 'utf8')));
    if (skipped.length === 0) continue;
    ignore.push(...skipped.map((file) => `^${escapeRegExp(file)}$`));
    warnings.push(
      `${tool.name} is not installed: ${skipped.length} test files that need it are left out of this run ` +
        `(${skipped.map((file) => relative(root, file)).join(', ')}). Install it with \`${tool.install}\`; CI never leaves them out.`,
    );
  }
  return { ignore, warnings };
}

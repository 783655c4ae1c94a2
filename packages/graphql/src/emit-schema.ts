import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printMeridianSchema } from './schema.js';

// Writes the SDL to packages/graphql/schema.graphql; with --check, fails when it differs.
const target = fileURLToPath(new URL('../schema.graphql', import.meta.url));
const sdl = await printMeridianSchema();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== sdl) {
    console.error('packages/graphql/schema.graphql is out of date: run `pnpm --filter @meridian/graphql emit-schema`.');
    process.exit(1);
  }
} else {
  await writeFile(target, sdl);
  console.log(`Wrote ${target}`);
}

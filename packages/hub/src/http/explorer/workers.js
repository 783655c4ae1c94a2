// Monaco runs its language services in web workers. Its default is to load
// them relative to a CDN-style base path; the hub serves the ones
// scripts/build-explorer.mjs bundles instead, so the CSP can stay at
// `worker-src 'self'`. Imported first by client.jsx, before Monaco starts.
const WORKERS = { json: 'json.worker.js', graphql: 'graphql.worker.js' };

globalThis.MonacoEnvironment = {
  getWorker(_moduleId, label) {
    return new Worker(`/explorer/assets/workers/${WORKERS[label] ?? 'editor.worker.js'}`, { name: label });
  },
};

// The hub's heap sizes, for every way this repository starts it (docs/operations.md, "Memory"; ADR 0036):
// a 192 MB old generation, so that V8 collects before the process grows by hundreds of MB, and 16 MB
// semi-spaces, without which V8 under load stops scavenging and runs full collections back to back.

/** The heap flags to start the hub with; a size that `nodeOptions` (NODE_OPTIONS) already sets is left to it. */
export function hubHeapFlags(nodeOptions = '') {
  return [
    ...(/--max-old-space-size/.test(nodeOptions) ? [] : ['--max-old-space-size=192']),
    ...(/--max-semi-space-size/.test(nodeOptions) ? [] : ['--max-semi-space-size=16']),
  ];
}

// The image's HEALTHCHECK: 0 when /healthz answers 200 on PORT (api, all) or on MERIDIAN_METRICS_PORT (a worker,
// which serves no other HTTP port), 1 otherwise. Plain Node: nothing to install in the image.
const ports = [process.env.PORT || '4000', process.env.MERIDIAN_METRICS_PORT].filter(Boolean);
for (const port of ports) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    if (response.ok) process.exit(0);
  } catch {
    // Nothing listens on this port in this role: try the next one.
  }
}
process.exit(1);

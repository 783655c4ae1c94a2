export { type HubConfig, loadConfig, renderConfigurationReference } from './config/config.js';
export { buildApp, type AppOptions } from './http/app.js';
export { createAuthenticator } from './http/authenticator.js';
export { openRuntime, type Runtime } from './runtime/runtime.js';
export { buildCli, runCli } from './cli/main.js';

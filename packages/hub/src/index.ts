export { buildCli, runCli } from './cli/main.js';
export { type HubConfig, loadConfig, renderConfigurationReference } from './config/config.js';
export { type AppOptions, buildApp } from './http/app.js';
export { createAuthenticator } from './http/authenticator.js';
export { openRuntime, type Runtime } from './runtime/runtime.js';

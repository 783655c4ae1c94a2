export { type AcmeConfig, AcmeConnector, acmeConnectorFactory } from './acme-connector.js';

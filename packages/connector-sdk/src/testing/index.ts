export { type ConformanceOptions, type ConformanceSubject, outboundGroup, outboundUser, runConnectorConformance } from './conformance.js';

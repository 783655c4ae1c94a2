export { type AccountOutcome, AccountPage } from './account.js';
export { adapterFor, clientMetadataOf } from './adapter.js';
export { consentedPeople, type ScimAnswer } from './consented-people.js';
export { type FormFields, type InteractionOutcome, Interactions } from './interactions.js';
export {
  type FirstSignInSource,
  JitProvisioner,
  type JitProvisionerOptions,
  type JitProvisioning,
  SourcePullSignIn,
  type SourcePullSignInOptions,
} from './jit.js';
export { type PullQuery, pullConsentedPeople } from './jit-pull.js';
export { type CommunityKeys, communityKeys } from './keys.js';
export { errorPage, escapeHtml, type PageTheme, type RenderedPage } from './pages.js';
export type {
  LoginAccount,
  LoginFailureReason,
  OidcAccounts,
  OidcClientRecord,
  OidcClients,
  OidcCommunity,
  OidcPayload,
  OidcRequestContext,
  OidcStorage,
  PasswordVerifier,
} from './ports.js';
export {
  type CommunityProvider,
  CommunityProviders,
  type CommunityProvidersOptions,
  DEFAULT_THROTTLE,
  oidcContext,
  type ThrottleLimits,
} from './provider.js';
export { releaseClaims } from './release.js';
export { scimUserOfClaims } from './scim-me.js';

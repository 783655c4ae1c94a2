import { createHash } from 'node:crypto';
import type { ConsentItem } from '@meridian/core';

// The pages a person sees (sign-in, office choice, consent, logout, errors):
// server-rendered HTML that works without JavaScript, labelled for screen
// readers, themed per community, with a Content-Security-Policy that allows
// nothing but the page's own style block.

/** How a community's pages look (the community's theme, docs/sso.md; validated in core, checked again here). */
export interface PageTheme {
  /** The community's name, shown as the page heading and the logo's alt text. */
  name: string;
  /** The accent colour (`#rrggbb`): headings, buttons, focus rings. */
  colour: string;
  /** The page's background colour (`#rrggbb`). */
  background?: string | null;
  /** The logo: an https URL or a `data:image/…;base64,` URI. */
  logoUrl?: string | null;
  /** Where a person gets help (https or mailto:), the footer's link. */
  supportUrl?: string | null;
}

/** A rendered page and the headers it must be sent with. */
export interface RenderedPage {
  status: number;
  html: string;
  headers: Record<string, string>;
}

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLOUR = /^#[0-9a-fA-F]{6}$/;
const DEFAULT_ACCENT = '#1f4e8c';
const DEFAULT_BACKGROUND = '#f4f5f7';
const DATA_LOGO = /^data:image\/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;
// What would end a CSP source expression, or an attribute, if it reached one: never in a logo URL core accepted.
const CSP_UNSAFE = /[;,'"\s\\<>]/;

/** The theme's logo and the `img-src` source that lets exactly it load; undefined for none or anything unexpected. */
function logoOf(theme: PageTheme): { src: string; source: string } | undefined {
  const logo = theme.logoUrl;
  if (!logo) return undefined;
  // An inline image needs `data:` in img-src; nothing else on the pages is an image, and every value is escaped.
  if (DATA_LOGO.test(logo)) return { src: logo, source: 'data:' };
  if (!URL.canParse(logo)) return undefined;
  const url = new URL(logo);
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || CSP_UNSAFE.test(url.href)) return undefined;
  // A source expression with a path that does not end in '/' matches that one file (CSP 3 §6.7.2.9), not the whole host.
  return { src: url.href, source: `${url.origin}${url.pathname}` };
}

/** Black or white, whichever reads better on `hex` (WCAG 2.2 relative luminance). */
function textOn(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05: white wins below L ≈ 0.179.
  return luminance > 0.179 ? '#000000' : '#ffffff';
}

/** The page's style: the theme's colours only as CSS custom properties, and only when they are `#rrggbb`. */
function styleOf(theme: PageTheme): string {
  const accent = COLOUR.test(theme.colour) ? theme.colour : DEFAULT_ACCENT;
  const background = theme.background && COLOUR.test(theme.background) ? theme.background : DEFAULT_BACKGROUND;
  return [
    `:root{--meridian-primary:${accent};--meridian-on-primary:${textOn(accent)};--meridian-background:${background};--meridian-on-background:${textOn(background)}}`,
    'body{font-family:system-ui,sans-serif;margin:0;background:var(--meridian-background);color:#1b1b1b}',
    'main{max-width:26rem;margin:3rem auto 1rem;padding:2rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.2)}',
    'header{display:flex;align-items:center;gap:.8rem;margin-bottom:1rem}header img{max-height:3rem;max-width:10rem}',
    'h1{font-size:1.4rem;margin:0;color:var(--meridian-primary)}',
    'label{display:block;margin:1rem 0 .3rem;font-weight:600}',
    'input[type=text],input[type=password],select{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #767676;border-radius:.25rem}',
    'button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:.25rem;background:var(--meridian-primary);color:var(--meridian-on-primary);cursor:pointer}',
    'button.secondary{background:#5a5a5a;color:#fff;margin-left:.5rem}',
    ':focus-visible{outline:3px solid var(--meridian-primary);outline-offset:2px}',
    '.error{color:#a00;font-weight:600}',
    'ul.claims{list-style:none;padding:0}ul.claims li{margin:.4rem 0}ul.claims label{display:inline;font-weight:400}',
    'footer{max-width:26rem;margin:0 auto 2rem;text-align:center}footer a{color:var(--meridian-on-background)}',
  ].join('');
}

/**
 * Strict security headers for a page: CSP allowing only its own style block
 * (by hash), the theme's logo (`imageSource`, one file or inline images) and
 * form posts to `formTargets`, no framing, no referrer, no caching.
 */
function pageHeaders(style: string, formTargets: readonly string[] = [], imageSource?: string): Record<string, string> {
  const hash = createHash('sha256').update(style).digest('base64');
  const forms = ["'self'", ...formTargets].join(' ');
  const images = ["'self'", ...(imageSource ? [imageSource] : [])].join(' ');
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; style-src 'sha256-${hash}'; img-src ${images}; form-action ${forms}; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/** A whole page around `body` (already escaped); `head` (already escaped) goes into its head. */
export function renderPage(
  theme: PageTheme,
  title: string,
  body: string,
  status = 200,
  formTargets: readonly string[] = [],
  head = '',
): RenderedPage {
  const style = styleOf(theme);
  const logo = logoOf(theme);
  const image = logo ? `<img src="${escapeHtml(logo.src)}" alt="${escapeHtml(theme.name)}">\n` : '';
  const support =
    theme.supportUrl && /^(?:https:|mailto:)/.test(theme.supportUrl)
      ? `\n<footer><a href="${escapeHtml(theme.supportUrl)}">Help and support</a></footer>`
      : '';
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – ${escapeHtml(theme.name)}</title>${head}
<style>${style}</style>
</head>
<body>
<main>
<header>${image}<h1>${escapeHtml(theme.name)}</h1></header>
${body}
</main>${support}
</body>
</html>`;
  return { status, html, headers: pageHeaders(style, formTargets, logo?.source) };
}

/** What the sign-in page shows. */
export interface LoginPage {
  action: string;
  clientName: string;
  userName?: string;
  /** Offices to choose from, when the userName does not say which one. */
  offices?: { slug: string; name: string }[];
  office?: string;
  error?: string;
  /** Offices whose people may sign in at their own identity provider instead. */
  upstreams?: { name: string; href: string }[];
}

/** The sign-in page: userName and password, and the office when it must be chosen. */
export function loginPage(theme: PageTheme, page: LoginPage, formTargets: readonly string[]): RenderedPage {
  const error = page.error ? `<p class="error" role="alert" id="login-error">${escapeHtml(page.error)}</p>` : '';
  const described = page.error ? ' aria-describedby="login-error"' : '';
  const offices = page.offices?.length
    ? `<label for="office">Office</label>
<select id="office" name="office" required>
${page.offices
  .map((o) => `<option value="${escapeHtml(o.slug)}"${o.slug === page.office ? ' selected' : ''}>${escapeHtml(o.name)}</option>`)
  .join('\n')}
</select>`
    : '';
  const body = `<h2>Sign in to ${escapeHtml(page.clientName)}</h2>
${error}
<form method="post" action="${escapeHtml(page.action)}" novalidate>
<input type="hidden" name="step" value="login">
<label for="username">User name</label>
<input type="text" id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(page.userName ?? '')}"${described}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${described}>
${offices}
<button type="submit">Sign in</button>
</form>
${
  page.upstreams?.length
    ? `<h2>Or sign in with your office</h2>
<ul class="claims">
${page.upstreams.map((u) => `<li><a href="${escapeHtml(u.href)}">Sign in with ${escapeHtml(u.name)}</a></li>`).join('\n')}
</ul>`
    : ''
}`;
  return renderPage(theme, 'Sign in', body, page.error ? 401 : 200, formTargets);
}

/** The consent page: each attribute in plain words; optional ones can be unticked. */
export function consentPage(
  theme: PageTheme,
  page: { action: string; clientName: string; items: ConsentItem[]; maxCacheSeconds: number },
  formTargets: readonly string[],
): RenderedPage {
  const items = page.items
    .map((item) =>
      item.optional
        ? `<li><input type="checkbox" id="claim-${item.claim}" name="claim" value="${item.claim}" checked> <label for="claim-${item.claim}">${escapeHtml(item.description)} (optional)</label></li>`
        : `<li>${escapeHtml(item.description)} (required)</li>`,
    )
    .join('\n');
  const days = page.maxCacheSeconds >= 86_400 ? `${Math.round(page.maxCacheSeconds / 86_400)} day(s)` : `${page.maxCacheSeconds} seconds`;
  const body = `<h2>${escapeHtml(page.clientName)} asks for</h2>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="step" value="consent">
<fieldset><legend>Your identifier, and:</legend>
<ul class="claims">
${items || '<li>nothing else</li>'}
</ul>
</fieldset>
<p>${escapeHtml(page.clientName)} may keep these for at most ${escapeHtml(days)}. You can withdraw this later from your account.</p>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`;
  return renderPage(theme, 'Consent', body, 200, formTargets);
}

/** An error page: what went wrong in words a person understands, never a stack or an internal detail. */
export function errorPage(theme: PageTheme, message: string, status = 400): RenderedPage {
  return renderPage(theme, 'Error', `<p class="error" role="alert">${escapeHtml(message)}</p>`, status);
}

/**
 * A page that moves on to `href` at once (a zero-second refresh, WCAG H76, with
 * a link for those who have refreshes turned off). It ends a chain of
 * redirects that began with a form post at another provider: browsers check
 * the whole chain against that page's `form-action`, which cannot name every
 * relying party at its end; the refresh is a navigation of its own.
 */
export function continuePage(theme: PageTheme, href: string): RenderedPage {
  const target = escapeHtml(href);
  return renderPage(
    theme,
    'Signing in',
    `<p>Signing you in… <a href="${target}">Continue</a></p>`,
    200,
    [],
    `\n<meta http-equiv="refresh" content="0;url=${target}">`,
  );
}

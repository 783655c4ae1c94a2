// A Shared Signals receiver of a Meridian community, written from the RFCs with Node's built-ins only
// (docs/events.md): it finds the transmitter (SSF 1.0 §7), creates a poll stream for one department's email
// changes (SSF 1.0 §8.1.1, with Meridian's `filter` and `attributes`), long-polls it (RFC 8936), verifies every
// SET against the issuer's JWKS (RFC 8417, RS256), acknowledges it, and pulls the changed person over SCIM with its
// own credentials.
//
//   ISSUER=https://hub.example.org/oidc/coi CLIENT_ID=rp_… CLIENT_SECRET=mrp_… node receiver.mjs
//   ISSUER=… TOKEN=mrd_… node receiver.mjs           # a community API token with the relying_party role
//
// Optional: DEPARTMENT (default Sales), STREAM_ID (reuse a stream), ONCE=1 (one poll, then exit).

import { createPublicKey, verify } from 'node:crypto';

const issuer = process.env.ISSUER?.replace(/\/+$/, '');
if (!issuer) throw new Error('Set ISSUER, e.g. https://hub.example.org/oidc/coi');
const department = process.env.DEPARTMENT ?? 'Sales';
const once = process.env.ONCE === '1';

/** A bearer token: the relying party's client-credentials access token (RFC 6749 §4.4), or the API token. */
async function accessToken(metadata) {
  if (process.env.TOKEN) return process.env.TOKEN;
  const basic = Buffer.from(`${encodeURIComponent(process.env.CLIENT_ID)}:${encodeURIComponent(process.env.CLIENT_SECRET)}`).toString(
    'base64',
  );
  const res = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (!res.ok) throw new Error(`token endpoint: ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

async function json(url, token, init = {}) {
  const res = await fetch(url, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : res.json();
}

/** RFC 7515 compact JWS with RS256, checked against the JWKS; then the RFC 8417 and RFC 7519 claims. */
function verifySet(token, jwks, audience) {
  const [header64, payload64, signature64] = token.split('.');
  const header = JSON.parse(Buffer.from(header64, 'base64url').toString());
  if (header.alg !== 'RS256' || header.typ !== 'secevent+jwt') throw new Error(`unexpected SET header ${JSON.stringify(header)}`);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the JWKS`);
  const ok = verify(
    'sha256',
    Buffer.from(`${header64}.${payload64}`),
    createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(signature64, 'base64url'),
  );
  if (!ok) throw new Error('bad SET signature');
  const set = JSON.parse(Buffer.from(payload64, 'base64url').toString());
  const aud = Array.isArray(set.aud) ? set.aud : [set.aud];
  if (set.iss !== issuer || !aud.includes(audience)) throw new Error('SET for another issuer or audience');
  return set;
}

const url = new URL(issuer);
// SSF 1.0 §7.2: the well-known string goes between the host and the issuer's path.
const ssf = await (await fetch(`${url.origin}/.well-known/ssf-configuration${url.pathname}`)).json();
const oidc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const jwks = await (await fetch(ssf.jwks_uri)).json();
const token = await accessToken(oidc);

const stream = process.env.STREAM_ID
  ? await json(`${ssf.configuration_endpoint}?stream_id=${process.env.STREAM_ID}`, token)
  : await json(ssf.configuration_endpoint, token, {
      method: 'POST',
      body: JSON.stringify({
        delivery: { method: 'urn:ietf:rfc:8936' },
        events_requested: [
          'urn:ietf:params:scim:event:prov:create:notice',
          'urn:ietf:params:scim:event:prov:patch:notice',
          'urn:ietf:params:scim:event:prov:put:notice',
          'urn:ietf:params:scim:event:prov:delete',
          'urn:ietf:params:scim:event:feed:add',
          'urn:ietf:params:scim:event:feed:remove',
        ],
        filter: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "${department}"`,
        attributes: ['emails'],
        description: `${department} e-mail changes`,
      }),
    });
console.error(`stream ${stream.stream_id}: polling ${stream.delivery.endpoint_url}`);

let ack = [];
do {
  const answer = await json(stream.delivery.endpoint_url, token, {
    method: 'POST',
    body: JSON.stringify({ maxEvents: 50, returnImmediately: once, ack }),
  });
  ack = [];
  for (const [jti, set] of Object.entries(answer.sets)) {
    const claims = verifySet(set, jwks, stream.aud);
    const [type, payload] = Object.entries(claims.events)[0];
    // Pull the changed person with our own credentials: a relying party reads what was released to it.
    let current = null;
    if (claims.sub_id.format === 'iss_sub' && !type.endsWith(':delete')) {
      const res = await fetch(`${issuer}/scim/v2/Users/${encodeURIComponent(claims.sub_id.sub)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      current = res.ok ? await res.json() : { status: res.status };
    }
    console.log(JSON.stringify({ jti, txn: claims.txn, type, subject: claims.sub_id, payload, current }));
    ack.push(jti);
  }
  if (once && ack.length > 0) {
    await json(stream.delivery.endpoint_url, token, {
      method: 'POST',
      body: JSON.stringify({ maxEvents: 0, returnImmediately: true, ack }),
    });
  }
} while (!once);

// An MCP host signing in to Engram with the official MCP TypeScript SDK's
// OAuth client (see internal/httpapi/oauth_sdk_test.go, which starts the
// server and a member, and checks what this prints). The SDK does
// everything a host does: the 401 with resource metadata, discovery of the
// authorization server, dynamic registration, the authorization URL with
// PKCE S256 and the resource indicator, the code exchange, the tool calls.
// The only part played here is the browser: it opens the URL, keeps the
// page's cookie, fills the sign-in form as the member and follows the
// redirect back to the host's loopback address.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const base = process.env.ENGRAM_URL;
const email = process.env.ENGRAM_EMAIL;
const password = process.env.ENGRAM_PASSWORD;
const redirectUrl = 'http://127.0.0.1:33418/callback';

// Every request the SDK makes, as "METHOD path status", for the test.
const seen = [];
const recordingFetch = async (url, init) => {
  const res = await fetch(url, init);
  seen.push(`${init?.method ?? 'GET'} ${new URL(url).pathname} ${res.status}`);
  return res;
};

// The host's storage: an in-memory OAuthClientProvider.
class Provider {
  constructor() { this.store = {}; }
  get redirectUrl() { return redirectUrl; }
  get clientMetadata() {
    return {
      redirect_uris: [redirectUrl], client_name: 'SDK scenario host', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    };
  }
  state() { return 'sdk-state-7'; }
  clientInformation() { return this.store.client; }
  saveClientInformation(c) { this.store.client = c; }
  tokens() { return this.store.tokens; }
  saveTokens(t) { this.store.tokens = t; }
  redirectToAuthorization(u) { this.store.authUrl = u; }
  saveCodeVerifier(v) { this.store.verifier = v; }
  codeVerifier() { return this.store.verifier; }
}

// The browser: GET the page, post the form with its cookie, return the
// redirect's query.
async function browser(authUrl) {
  const page = await fetch(authUrl, { redirect: 'manual' });
  if (page.status !== 200) throw new Error(`sign-in page: ${page.status}`);
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const html = await page.text();
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.append(unescape(m[1]), unescape(m[2]));
  }
  form.set('email', email);
  form.set('password', password);
  const action = new URL(html.match(/<form method="post" action="([^"]+)"/)[1], authUrl);
  const back = await fetch(action, {
    method: 'POST', redirect: 'manual', body: form,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });
  const location = back.headers.get('location');
  if (back.status !== 303 || !location?.startsWith(redirectUrl)) throw new Error(`after sign-in: ${back.status} ${location}`);
  return new URL(location).searchParams;
}

function unescape(s) {
  return s.replaceAll('&#43;', '+').replaceAll('&#34;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

const provider = new Provider();
const mcpUrl = new URL('/mcp', base);
const out = {};

// 1. Connecting without a token: 401, and the SDK sends the browser off.
const first = new Client({ name: 'sdk-scenario', version: '1.0.0' });
try {
  await first.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch }));
  throw new Error('connected without signing in');
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
const authUrl = provider.store.authUrl;
out.authorize = Object.fromEntries(authUrl.searchParams);
out.client_id = provider.store.client.client_id;

// 2. The member signs in in the browser; the host gets the code.
const q = await browser(authUrl.href);
out.redirect = { state: q.get('state'), iss: q.get('iss'), has_code: q.has('code') };
const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch });
await transport.finishAuth(q.get('code'));
out.scope = provider.store.tokens.scope;
out.token_type = provider.store.tokens.token_type;

// 3. The host connects with its token and uses the tools as the member.
const client = new Client({ name: 'sdk-scenario', version: '1.0.0' });
await client.connect(transport);
const added = await client.callTool({ name: 'add_memory', arguments: { content: 'signed in through the TypeScript SDK: prefers jasmine tea' } });
const found = await client.callTool({ name: 'search_memories', arguments: { query: 'jasmine tea' } });
out.add_error = added.isError ?? false;
out.search_text = found.content.map((c) => c.text ?? '').join('\n');
await client.close();

// 4. A refresh through the SDK (as a host does when the access token
// expires): rotation gives a new pair that still works.
const before = provider.store.tokens.refresh_token;
provider.store.tokens = { ...provider.store.tokens, access_token: 'egat_expired' };
const again = new Client({ name: 'sdk-scenario', version: '1.0.0' });
try {
  await again.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch }));
} catch (e) {
  // The SDK refreshes on the 401 and retries once.
  if (!(e instanceof UnauthorizedError)) throw e;
}
out.rotated = provider.store.tokens.refresh_token !== before && provider.store.tokens.access_token !== 'egat_expired';
const listed = await again.callTool({ name: 'list_memories', arguments: {} }).catch((e) => ({ isError: true, content: [{ text: String(e) }] }));
out.after_refresh_error = listed.isError ?? false;
await again.close();

out.requests = seen;
console.log(JSON.stringify(out));

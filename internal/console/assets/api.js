// api.js: the REST API with the browser's session cookies. The access and
// refresh tokens live only in HttpOnly cookies: no script reads them, and
// nothing is written to the browser's storage.

export class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

async function send(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

let refreshing = null;

// refresh spends the refresh cookie for a new pair; one at a time.
async function refresh() {
  if (!refreshing) {
    refreshing = send('POST', '/v1/auth/refresh').then(async (res) => {
      // The body repeats the tokens for programs; the page ignores it.
      if (res.body) await res.body.cancel();
      return res.ok;
    }).finally(() => { refreshing = null; });
  }
  return refreshing;
}

// call sends a request and decodes the JSON answer (null for 204). On a
// 401 it refreshes the session once and retries.
export async function call(method, path, body) {
  let res = await send(method, path, body);
  if (res.status === 401 && await refresh()) {
    res = await send(method, path, body);
  }
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  if (res.status === 204) return null;
  return res.json();
}

// upload sends a file (a Blob) as the request body, as JSON, and decodes
// the JSON answer. On a 401 it refreshes the session once and retries (a
// File can be read again).
export async function upload(path, file) {
  const init = () => ({
    method: 'POST', credentials: 'same-origin', body: file,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
  });
  let res = await fetch(path, init());
  if (res.status === 401 && await refresh()) {
    res = await fetch(path, init());
  }
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  return res.json();
}

// publicCall sends a request that needs no session (a one-time link's
// token is the proof): no refresh on 401.
export async function publicCall(method, path, body) {
  const res = await send(method, path, body);
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  // 204, or a 202 with no body (a reset request), answers null.
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// login signs in as a browser: the server answers with cookies. The body
// (the same tokens, for programs) is discarded unread.
export async function login(email, password, tenant) {
  const body = { email, password };
  if (tenant) body.tenant = tenant;
  const res = await send('POST', '/v1/auth/login', body);
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  if (res.body) await res.body.cancel();
}

// dropCookies runs after every session of the account has ended (sign out
// everywhere): the server refuses the spent refresh cookie and, in the same
// answer, clears both cookies, so no dead session lingers in the browser.
export async function dropCookies() {
  const res = await send('POST', '/v1/auth/refresh');
  if (res.body) await res.body.cancel();
}

export async function logout() {
  const res = await send('POST', '/v1/auth/logout');
  if (res.body) await res.body.cancel();
}

// me answers who is signed in, or null when nobody is. It first asks the
// console which session cookies the browser holds (present or not: the
// page cannot read them), so a signed-out visit sends no refused request.
export async function me() {
  const res = await fetch('/console/session', { credentials: 'same-origin', cache: 'no-store' });
  const has = res.ok ? await res.json() : { access: true };
  if (!has.access && !(has.refresh && await refresh())) return null;
  try {
    return await call('GET', '/v1/me');
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return null;
    throw e;
  }
}

// app.js: the console's pages. Every text from the server is set with
// textContent (never parsed as HTML). Buttons a role cannot use are not shown;
// the server refuses them anyway.
import { APIError, call, dropCookies, login, logout, me, publicCall, upload } from './api.js';

const $ = (id) => document.getElementById(id);
const pages = ['login', 'accept', 'reset', 'verify', 'memories', 'keys', 'audit', 'members', 'data', 'knowledge', 'encryption', 'sso', 'account'];
const navPages = ['memories', 'keys', 'audit', 'members', 'data', 'knowledge', 'encryption', 'sso', 'account'];
let account = null;
let memoryCursor = '';

function can(perm) {
  return !!account && Array.isArray(account.permissions) && account.permissions.includes(perm);
}

function say(msg) {
  $('notice').textContent = msg || '';
  if (msg) $('error').textContent = '';
}

function fail(e) {
  const msg = e instanceof APIError ? `${e.message} (${e.status})` : 'Something went wrong; try again.';
  $('error').textContent = msg;
  $('notice').textContent = '';
  if (e instanceof APIError && e.status === 401) showSignedOut();
}

function el(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

function when(t) {
  return t ? new Date(t).toLocaleString() : '';
}

function show(page) {
  for (const p of pages) $(`page-${p}`).hidden = p !== page;
  for (const p of navPages) {
    const a = $(`nav-${p}`);
    if (p === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function showSignedOut() {
  account = null;
  $('nav').hidden = true;
  $('account').hidden = true;
  $('whoami').textContent = '';
  show('login');
}

async function route() {
  if (!account) { showSignedOut(); return; }
  let page = location.hash.replace('#', '') || 'memories';
  const allowed = { memories: true, keys: can('keys:admin'), audit: can('audit:read'), members: can('members:read'), data: true,
    knowledge: can('memories:read'), encryption: mayRotate(), sso: can('sso:admin'), account: true };
  if (!allowed[page]) page = 'memories';
  show(page);
  say('');
  $('error').textContent = '';
  try {
    if (page === 'keys') await loadKeys();
    if (page === 'audit') await loadAudit();
    if (page === 'members') await loadMembers();
    if (page === 'data') await loadData();
    if (page === 'knowledge') await loadKnowledge();
    if (page === 'account') await loadSessions();
    if (page === 'sso') await loadSSO();
  } catch (e) { fail(e); }
}

async function signedIn(m) {
  account = m;
  $('whoami').textContent = m.email || m.name || m.id;
  $('role').textContent = m.role;
  $('account').hidden = false;
  $('nav').hidden = false;
  $('nav-keys').hidden = !can('keys:admin');
  $('nav-audit').hidden = !can('audit:read');
  $('nav-members').hidden = !can('members:read');
  $('nav-knowledge').hidden = !can('memories:read');
  $('nav-encryption').hidden = !mayRotate();
  $('nav-sso').hidden = !can('sso:admin');
  $('sso-config-form').hidden = m.role !== 'owner';
  $('invite-form').hidden = !can('members:admin');
  fillRoles($('invite-role'), 'member');
  fillExportScopes();
  for (const w of document.querySelectorAll('#page-memories .write')) w.hidden = !can('memories:write');
  $('key-form').hidden = !can('keys:admin');
  fillScopes();
  await route();
}

// --- sign in / out

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pw = $('login-password');
  try {
    await login($('login-email').value.trim(), pw.value, $('login-tenant').value.trim());
    pw.value = '';
    const m = await me();
    if (!m) throw new APIError(401, { detail: 'signed in, but the session cookie was not kept (the console needs HTTPS or localhost)' });
    say('');
    await signedIn(m);
  } catch (e) {
    pw.value = '';
    fail(e);
  }
});

$('signout').addEventListener('click', async () => {
  try { await logout(); } catch { /* the cookies are cleared either way */ }
  $('memory-results').replaceChildren();
  $('key-list').replaceChildren();
  $('member-list').replaceChildren();
  $('invitation-list').replaceChildren();
  $('deletion-list').replaceChildren();
  clearKnowledge();
  $('session-list').replaceChildren();
  $('export-status').textContent = '';
  hideSecret();
  hideInviteLink();
  say('Signed out.');
  showSignedOut();
  $('login-email').focus();
});

// --- memories

function memoryItem(m, explain, score) {
  const li = el('li');
  li.dataset.id = m.id;
  li.append(el('p', m.memory, 'content'));
  const meta = [m.user_id && `user ${m.user_id}`, when(m.created_at), m.visibility].filter(Boolean).join(' · ');
  li.append(el('p', meta, 'meta'));
  if (score !== undefined) {
    li.append(el('p', `score ${Number(score).toFixed(3)}`, 'meta score'));
  }
  if (explain) {
    const parts = Object.entries(explain)
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`);
    li.append(el('p', `explain: ${parts.join(', ')}`, 'meta explain'));
  }
  const actions = el('div', undefined, 'actions');
  const hist = button('History', 'history', `History of memory: ${m.memory.slice(0, 60)}`, async () => {
    const old = li.querySelector('.history-list');
    if (old) { old.remove(); return; }
    try {
      const res = await call('GET', `/v1/memories/${encodeURIComponent(m.id)}/history`);
      const ol = el('ol', undefined, 'history-list meta');
      for (const h of res.results || []) {
        const change = h.event === 'UPDATE' ? `${h.old_memory} → ${h.new_memory}` : (h.new_memory || h.old_memory);
        ol.append(el('li', `${when(h.created_at)} · ${h.event}: ${change}`));
      }
      li.append(ol);
    } catch (e) { fail(e); }
  });
  actions.append(hist);
  if (mayWrite(m)) {
    actions.append(button('Edit', 'edit', `Edit memory: ${m.memory.slice(0, 60)}`, () => editMemory(li, m)));
    actions.append(button('Delete', 'delete danger', `Delete memory: ${m.memory.slice(0, 60)}`, async () => {
      if (!confirm('Delete this memory?')) return;
      try {
        await call('DELETE', `/v1/memories/${encodeURIComponent(m.id)}`);
        li.remove();
        say('Memory deleted.');
      } catch (e) { fail(e); }
    }));
  }
  li.append(actions);
  return li;
}

function button(text, cls, label, onClick) {
  const b = el('button', text, cls);
  b.type = 'button';
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

// mayWrite mirrors the role matrix (docs/IDENTITY.md): a member changes
// only what they wrote; owners, admins and operators any shared memory.
// The server decides anyway.
function mayWrite(m) {
  if (!can('memories:write')) return false;
  return account.role !== 'member' || m.author_id === account.id;
}

let editSeq = 0;

// editMemory swaps the memory's text for a labelled textarea with Save and
// Cancel; Save replaces the text (PUT), and the change enters its history.
function editMemory(li, m) {
  if (li.querySelector('form')) return;
  const id = `memory-edit-${++editSeq}`;
  const form = el('form', undefined, 'edit-form');
  const lab = el('label', 'New text');
  lab.htmlFor = id;
  const ta = el('textarea');
  ta.id = id;
  ta.rows = 3;
  ta.maxLength = 65536;
  ta.required = true;
  ta.value = m.memory;
  const save = el('button', 'Save', 'save');
  save.type = 'submit';
  const cancel = button('Cancel', 'cancel', 'Cancel the edit', () => form.remove());
  form.append(lab, ta, save, cancel);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const u = await call('PUT', `/v1/memories/${encodeURIComponent(m.id)}`, { content: ta.value });
      li.replaceWith(memoryItem(u));
      say('Memory updated.');
    } catch (e) { fail(e); }
  });
  li.querySelector('.actions').before(form);
  ta.focus();
}

async function listMemories(more) {
  const q = new URLSearchParams({ limit: '20' });
  const user = $('memory-user').value.trim();
  if (user) q.set('user_id', user);
  if (more && memoryCursor) q.set('cursor', memoryCursor);
  const res = await call('GET', `/v1/memories?${q}`);
  const list = $('memory-results');
  if (!more) list.replaceChildren();
  for (const m of res.results || []) list.append(memoryItem(m));
  memoryCursor = res.next_cursor || '';
  $('memory-more').hidden = !memoryCursor;
  if (!more) say(`${list.children.length} memor${list.children.length === 1 ? 'y' : 'ies'} shown.`);
}

$('memory-scope-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try { await listMemories(false); } catch (e) { fail(e); }
});

$('memory-more').addEventListener('click', async () => {
  try { await listMemories(true); } catch (e) { fail(e); }
});

$('memory-add-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { content: $('memory-content').value };
  const user = $('memory-user').value.trim();
  if (user) body.user_id = user;
  try {
    await call('POST', '/v1/memories', body);
    $('memory-content').value = '';
    await listMemories(false);
    say('Memory added.');
  } catch (e) { fail(e); }
});

$('memory-search-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { query: $('memory-query').value, explain: true, limit: 20 };
  const user = $('memory-user').value.trim();
  if (user) body.user_id = user;
  try {
    const res = await call('POST', '/v1/search', body);
    const list = $('memory-results');
    list.replaceChildren();
    for (const h of res.results || []) {
      const { score, explain, ...m } = h;
      list.append(memoryItem(m, explain, score));
    }
    $('memory-more').hidden = true;
    say(`${list.children.length} result${list.children.length === 1 ? '' : 's'}.`);
  } catch (e) { fail(e); }
});

// --- API keys

const allScopes = ['memories:read', 'memories:write', 'keys:admin', 'audit:read', 'audit:hold', 'users:forget',
  'members:read', 'members:admin', 'tenant:admin', 'sso:admin'];

// fillScopes offers the scopes the caller holds: a key never gets more.
function fillScopes() {
  const fs = $('key-scopes');
  for (const n of fs.querySelectorAll('.scope')) n.remove();
  for (const s of allScopes.filter(can)) {
    const id = `key-scope-${s.replace(':', '-')}`;
    const wrap = el('div', undefined, 'scope');
    const box = el('input');
    box.type = 'checkbox';
    box.id = id;
    box.value = s;
    const lab = el('label', s);
    lab.htmlFor = id;
    wrap.append(box, lab);
    fs.append(wrap);
  }
}

function hideSecret() {
  $('key-secret').textContent = '';
  $('key-secret-box').hidden = true;
}

async function loadKeys() {
  const res = await call('GET', '/v1/keys');
  const list = $('key-list');
  list.replaceChildren();
  // Live keys first, newest first; revoked ones after.
  const keys = (res.results || []).slice().sort((a, b) =>
    (!!a.revoked_at - !!b.revoked_at) || String(b.created_at).localeCompare(String(a.created_at)));
  for (const k of keys) {
    const li = el('li');
    li.dataset.id = k.id;
    li.dataset.name = k.name;
    li.append(el('p', `${k.name} (${k.prefix}…)`, 'content'));
    const meta = [`scopes ${(k.scopes || []).join(', ')}`, `created ${when(k.created_at)}`,
      k.expires_at && `expires ${when(k.expires_at)}`, k.last_used_at && `last used ${when(k.last_used_at)}`,
      k.revoked_at && `revoked ${when(k.revoked_at)}`].filter(Boolean).join(' · ');
    li.append(el('p', meta, 'meta'));
    if (!k.revoked_at && can('keys:admin')) {
      const b = el('button', 'Revoke', 'revoke danger');
      b.type = 'button';
      b.setAttribute('aria-label', `Revoke key ${k.name}`);
      b.addEventListener('click', async () => {
        if (!confirm(`Revoke the key "${k.name}"? Programs using it stop working at once.`)) return;
        try {
          await call('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
          await loadKeys();
          say(`Key ${k.name} revoked.`);
        } catch (e) { fail(e); }
      });
      li.append(b);
    } else if (k.revoked_at) {
      li.classList.add('revoked');
    }
    list.append(li);
  }
}

$('key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { name: $('key-name').value.trim() };
  const scopes = [...document.querySelectorAll('#key-scopes input:checked')].map((b) => b.value);
  if (scopes.length) body.scopes = scopes;
  const exp = $('key-expiry').value;
  if (exp) body.expires_at = `${exp}T23:59:59Z`;
  try {
    const k = await call('POST', '/v1/keys', body);
    $('key-secret').textContent = k.key;
    $('key-secret-box').hidden = false;
    $('key-name').value = '';
    $('key-expiry').value = '';
    for (const b of document.querySelectorAll('#key-scopes input')) b.checked = false;
    await loadKeys();
    say(`Key ${k.name} created.`);
  } catch (e) { fail(e); }
});

$('key-secret-done').addEventListener('click', hideSecret);

// --- audit

let auditCursor = '';

// loadEntries shows a page of entries: the newest (replacing the list), or
// with more the page after the last one shown (appended).
async function loadEntries(more) {
  const q = new URLSearchParams({ limit: '20' });
  const action = $('audit-action').value.trim();
  if (action) q.set('action', action);
  if ($('audit-outcome').value) q.set('outcome', $('audit-outcome').value);
  if (more && auditCursor) q.set('cursor', auditCursor);
  const list = $('audit-list');
  list.setAttribute('aria-busy', 'true');
  let res;
  try {
    res = await call('GET', `/v1/audit?${q}`);
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
  if (!more) list.replaceChildren();
  for (const a of res.results || []) {
    const li = el('li');
    li.dataset.seq = String(a.seq);
    li.append(el('p', `${a.action} · ${a.outcome}`, 'content'));
    li.append(el('p', [`#${a.seq}`, when(a.time), a.target_type && `${a.target_type} ${a.target_id || ''}`]
      .filter(Boolean).join(' · '), 'meta'));
    list.append(li);
  }
  auditCursor = res.next_cursor || '';
  $('audit-more').hidden = !auditCursor;
}

async function loadHolds() {
  const res = await call('GET', '/v1/audit/holds');
  const list = $('hold-list');
  list.replaceChildren();
  const holds = res.results || [];
  if (!holds.length) list.append(el('li', 'No legal hold.', 'meta'));
  for (const h of holds) {
    const li = el('li');
    li.dataset.id = h.id;
    li.dataset.reason = h.reason_code;
    li.append(el('p', `${h.reason_code} · ${h.user ? `end user (pseudonym ${h.user})` : 'the whole organisation'}`, 'content'));
    li.append(el('p', `placed ${when(h.created_at)}`, 'meta'));
    if (can('audit:hold')) {
      const b = el('button', 'Release', 'release danger');
      b.type = 'button';
      b.setAttribute('aria-label', `Release the ${h.reason_code} hold`);
      b.addEventListener('click', async () => {
        if (!confirm(`Release the ${h.reason_code} hold?`)) return;
        try {
          await call('DELETE', `/v1/audit/holds/${encodeURIComponent(h.id)}`);
          say('Hold released.');
          await loadHolds();
        } catch (e) { fail(e); }
      });
      li.append(b);
    }
    list.append(li);
  }
}

let segmentCursor = '';

async function loadSegments(more) {
  const q = new URLSearchParams({ limit: '20' });
  if (more && segmentCursor) q.set('cursor', segmentCursor);
  const res = await call('GET', `/v1/audit/segments?${q}`);
  const list = $('segment-list');
  if (!more) list.replaceChildren();
  const segs = res.results || [];
  if (!more && !segs.length) list.append(el('li', 'No sealed segment yet: entries are sealed in the background.', 'meta'));
  for (const g of segs) {
    const li = el('li');
    li.dataset.first = String(g.first);
    li.append(el('p', `Entries #${g.first}–#${g.last}`, 'content'));
    li.append(el('p', [`tree size ${g.tree_size}`, `sealed ${when(g.sealed_at)}`, g.dropped_at && `dropped ${when(g.dropped_at)}`]
      .filter(Boolean).join(' · '), 'meta'));
    if (!g.dropped_at) {
      const b = el('button', 'Download bundle', 'bundle');
      b.type = 'button';
      b.setAttribute('aria-label', `Download the proof bundle of entries ${g.first} to ${g.last}`);
      b.addEventListener('click', async () => {
        const st = $('bundle-status');
        const name = `engram-audit-${account.tenant}-${g.first}.json`;
        st.textContent = 'Downloading…';
        try {
          await call('GET', '/v1/me');
          const size = await download(`/v1/audit/segments/${encodeURIComponent(g.first)}/bundle`, name);
          st.textContent = `Downloaded ${name} (${size} bytes).`;
        } catch (e) {
          st.textContent = '';
          fail(e);
        }
      });
      li.append(b);
    }
    list.append(li);
  }
  segmentCursor = res.next_cursor || '';
  $('segments-more').hidden = !segmentCursor;
}

async function loadAudit() {
  const cp = await call('GET', '/v1/audit/checkpoint');
  $('audit-checkpoint').textContent = cp.checkpoint
    ? `Tree size ${cp.tree_size}; verifier key ${cp.verifier_key}. Keep a copy outside the server: engram audit verify --checkpoint checks it.`
    : 'No checkpoint yet: entries are sealed into signed segments in the background.';
  $('hold-form').hidden = !can('audit:hold');
  await Promise.all([loadEntries(false), loadHolds(), loadSegments(false)]);
}

$('audit-more').addEventListener('click', async () => {
  try { await loadEntries(true); } catch (e) { fail(e); }
});

$('segments-refresh').addEventListener('click', async () => {
  try { await loadSegments(false); } catch (e) { fail(e); }
});

$('segments-more').addEventListener('click', async () => {
  try { await loadSegments(true); } catch (e) { fail(e); }
});

$('hold-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { reason_code: $('hold-reason').value.trim() };
  const user = $('hold-user').value.trim();
  if (user) body.user_id = user;
  try {
    await call('POST', '/v1/audit/holds', body);
    $('hold-reason').value = '';
    $('hold-user').value = '';
    say(`Hold ${body.reason_code} placed.`);
    await loadHolds();
  } catch (e) { fail(e); }
});

$('audit-filter').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try { await loadEntries(false); } catch (e) { fail(e); }
});

$('audit-verify').addEventListener('click', async () => {
  const st = $('audit-status');
  st.textContent = 'Verifying…';
  st.className = '';
  try {
    const v = await call('GET', '/v1/audit/verify');
    if (v.intact) {
      st.textContent = `The chain is intact: ${v.entries} entries verified (up to #${v.last_seq}).`;
      st.className = 'ok';
    } else {
      const p = v.problem || {};
      st.textContent = `The chain is damaged at entry #${p.seq}: ${p.kind}${p.detail ? ` (${p.detail})` : ''}.`;
      st.className = 'bad';
    }
    await loadAudit();
  } catch (e) {
    st.textContent = '';
    fail(e);
  }
});

// --- members

// Roles from the least to the most powerful (docs/IDENTITY.md).
const roles = ['reader', 'member', 'operator', 'admin', 'owner'];

// grantable lists the roles the caller may give: at most their own (the
// server enforces it, with its other rules such as the last owner).
function grantable() {
  const mine = roles.indexOf(account ? account.role : '');
  return roles.filter((r, i) => i <= mine);
}

function fillRoles(sel, current) {
  sel.replaceChildren();
  const offer = grantable();
  if (current && !offer.includes(current)) offer.push(current);
  for (const r of offer) {
    const o = el('option', r);
    o.value = r;
    if (r === current) o.selected = true;
    sel.append(o);
  }
}

function hideInviteLink() {
  $('invite-link').textContent = '';
  $('invite-link-box').hidden = true;
}

let roleSeq = 0;

function memberItem(m) {
  const li = el('li');
  li.dataset.id = m.id;
  li.dataset.email = m.email || '';
  li.dataset.role = m.role;
  li.append(el('p', [m.name, m.email].filter(Boolean).join(' · ') || m.id, 'content'));
  const meta = [`role ${m.role}`, m.status, m.email_verified ? 'email confirmed' : '',
    m.created_at && `since ${when(m.created_at)}`].filter(Boolean).join(' · ');
  li.append(el('p', meta, 'meta'));
  const self = account && m.id === account.id;
  if (can('members:admin') && !self && m.status !== 'key_only') {
    const actions = el('div', undefined, 'actions');
    const label = m.email || m.id;
    if (m.status !== 'invited') {
      const id = `member-role-${++roleSeq}`;
      const lab = el('label', `Role of ${label}`, 'visually-hidden');
      lab.htmlFor = id;
      const sel = el('select', undefined, 'role-select');
      sel.id = id;
      fillRoles(sel, m.role);
      actions.append(lab, sel, button('Change role', 'role-save', `Change the role of ${label}`, async () => {
        try {
          await call('PATCH', `/v1/members/${encodeURIComponent(m.id)}`, { role: sel.value });
          await loadMembers();
          say(`${label} is now ${sel.value}.`);
        } catch (e) { fail(e); }
      }));
    }
    const verb = m.status === 'invited' ? 'Withdraw' : 'Remove';
    actions.append(button(verb, `${m.status === 'invited' ? 'withdraw' : 'remove'} danger`, `${verb} ${label}`, async () => {
      const q = m.status === 'invited' ? `Withdraw the invitation of ${label}?`
        : `Remove ${label}? Their sessions and keys stop working at once.`;
      if (!confirm(q)) return;
      try {
        await call('DELETE', `/v1/members/${encodeURIComponent(m.id)}`);
        await loadMembers();
        say(m.status === 'invited' ? `The invitation of ${label} is withdrawn.` : `${label} removed.`);
      } catch (e) { fail(e); }
    }));
    li.append(actions);
  }
  return li;
}

async function loadMembers() {
  const res = await call('GET', '/v1/members');
  const members = $('member-list');
  const invited = $('invitation-list');
  members.replaceChildren();
  invited.replaceChildren();
  for (const m of res.results || []) {
    (m.status === 'invited' ? invited : members).append(memberItem(m));
  }
  if (!invited.children.length) invited.append(el('li', 'None.', 'meta empty'));
}

$('invite-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { email: $('invite-email').value.trim(), role: $('invite-role').value };
  try {
    const inv = await call('POST', '/v1/invitations', body);
    $('invite-email').value = '';
    if (inv.accept_url) {
      $('invite-link').textContent = inv.accept_url;
      $('invite-link-box').hidden = false;
    } else {
      hideInviteLink();
    }
    await loadMembers();
    say(inv.sent ? `Invitation mailed to ${inv.email}.` : `${inv.email} is invited as ${inv.role}.`);
  } catch (e) { fail(e); }
});

$('invite-link-done').addEventListener('click', hideInviteLink);

// --- data: exports and deletions

// fillExportScopes offers the exports the caller may make: the whole
// organisation (tenant:admin), one end user (users:forget), and what a
// signed-in person wrote.
function fillExportScopes() {
  const sel = $('export-scope');
  sel.replaceChildren();
  const offer = [];
  if (can('tenant:admin')) offer.push(['tenant', 'The whole organisation']);
  if (can('users:forget')) offer.push(['user', 'One end user']);
  if (account.via === 'session') offer.push(['mine', 'The memories I wrote']);
  for (const [v, text] of offer) {
    const o = el('option', text);
    o.value = v;
    sel.append(o);
  }
  $('export-form').hidden = offer.length === 0;
  $('export-user-field').hidden = sel.value !== 'user';
  $('deletion-card').hidden = !can('users:forget');
}

$('export-scope').addEventListener('change', () => {
  $('export-user-field').hidden = $('export-scope').value !== 'user';
});

// download saves a fetched answer as a file: a Blob behind an object URL
// clicked from a detached link (no inline code, nothing the CSP refuses).
async function download(path, name) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch { /* no body */ }
    throw new APIError(res.status, problem);
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return blob.size;
}

$('export-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const scope = $('export-scope').value;
  const format = $('export-format').value;
  const q = `?format=${encodeURIComponent(format)}`;
  const day = new Date().toISOString().slice(0, 10);
  let path = `/v1/export${q}`;
  let name = `engram-export-${account.tenant}-${day}.${format === 'jsonld' ? 'jsonld' : 'json'}`;
  if (scope === 'user') {
    const user = $('export-user').value.trim();
    if (!user) { $('error').textContent = 'Enter the end user id to export.'; return; }
    path = `/v1/users/${encodeURIComponent(user)}/export${q}`;
    name = name.replace('engram-export-', 'engram-export-user-');
  } else if (scope === 'mine') {
    path = `/v1/me/export${q}`;
    name = name.replace('engram-export-', 'engram-export-mine-');
  }
  const st = $('export-status');
  st.textContent = 'Exporting…';
  try {
    // A session may have expired: refresh it through a cheap call first.
    await call('GET', '/v1/me');
    const size = await download(path, name);
    st.textContent = `Downloaded ${name} (${size} bytes).`;
  } catch (e) {
    st.textContent = '';
    fail(e);
  }
});

function remaining(t) {
  const ms = new Date(t) - Date.now();
  if (ms <= 0) return 'due now';
  const h = Math.round(ms / 3600000);
  return h >= 48 ? `in ${Math.round(h / 24)} days` : `in ${h} hours`;
}

// showMyDeletion tells a person whose account is scheduled for deletion
// (DELETE /v1/me) when it happens, and lets them cancel it.
function showMyDeletion() {
  const at = account && account.deletion_scheduled_for;
  $('my-deletion').hidden = !at;
  $('my-deletion-text').textContent = at
    ? `Your account is scheduled for deletion on ${when(at)} (${remaining(at)}); until then it is read-only.` : '';
}

$('my-deletion-cancel').addEventListener('click', async () => {
  try {
    await call('POST', '/v1/me/deletion/cancel');
    account = await me() || account;
    showMyDeletion();
    say('Your account\'s deletion is cancelled.');
  } catch (e) { fail(e); }
});

async function loadData() {
  showMyDeletion();
  $('import-form').hidden = !can('tenant:admin');
  if (can('tenant:admin') || can('users:forget')) {
    const k = await call('GET', '/v1/export/keys');
    $('export-key').textContent = `Signing key ${k.key_id} (${k.alg}): ${k.public_key}`;
  } else {
    $('export-key').textContent = '';
  }
  if (!can('users:forget')) return;
  const res = await call('GET', '/v1/deletions');
  const list = $('deletion-list');
  list.replaceChildren();
  for (const d of res.results || []) {
    const li = el('li');
    li.dataset.id = d.id;
    li.dataset.subject = d.subject;
    const who = d.kind === 'user' ? `end user ${d.subject}` : `account ${d.subject}`;
    li.append(el('p', `${who} · ${d.state}`, 'content'));
    li.append(el('p', `requested ${when(d.requested_at)} · erased ${when(d.scheduled_for)} (${remaining(d.scheduled_for)})`, 'meta'));
    let path = '';
    if (d.kind === 'user') path = `/v1/users/${encodeURIComponent(d.subject)}/deletion/cancel`;
    else if (account && d.subject === account.id) path = '/v1/me/deletion/cancel';
    if (path && d.state === 'pending') {
      li.append(button('Cancel the deletion', 'cancel', `Cancel the deletion of ${who}`, async () => {
        try {
          await call('POST', path);
          await loadData();
          say(`The deletion of ${who} is cancelled.`);
        } catch (e) { fail(e); }
      }));
    }
    list.append(li);
  }
  if (!list.children.length) list.append(el('li', 'None.', 'meta empty'));
}

$('deletion-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const user = $('deletion-user').value.trim();
  const grace = $('deletion-grace').value;
  if (!confirm(`Erase every memory of the end user ${user} after the grace period (${grace})?`)) return;
  try {
    await call('DELETE', `/v1/users/${encodeURIComponent(user)}?grace=${encodeURIComponent(grace)}`);
    $('deletion-user').value = '';
    await loadData();
    say(`The erasure of ${user} is scheduled.`);
  } catch (e) { fail(e); }
});

// --- knowledge: entities, their facts over time, episodes

// mayForget mirrors the role matrix (docs/IDENTITY.md): forgetting an
// entity is for owners, admins and operators. The server decides anyway.
function mayForget() {
  return can('memories:write') && ['owner', 'admin', 'operator'].includes(account.role);
}

// mayRotate: rotating the organisation's keys is the owner's (keys:admin).
function mayRotate() {
  return !!account && account.role === 'owner' && can('keys:admin');
}

function clearKnowledge() {
  $('entity-list').replaceChildren();
  $('episode-list').replaceChildren();
  $('relation-list').replaceChildren();
  $('knowledge-graph').replaceChildren();
  $('graph-box').hidden = true;
  $('entity-detail').hidden = true;
  $('episode-detail').hidden = true;
}

function factItem(f) {
  const li = el('li');
  li.dataset.id = f.id;
  const ended = f.invalid_at || f.expired_at;
  // ended: no longer true in the world (invalid_at); retired: Engram's
  // record of it was superseded (expired_at) without an end in the world.
  li.dataset.state = f.invalid_at ? 'ended' : (f.expired_at ? 'retired' : 'current');
  li.append(el('p', f.fact, 'content'));
  const rel = [f.subject && f.subject.name, f.predicate, (f.object && f.object.name) || f.value].filter(Boolean).join(' → ');
  li.append(el('p', rel, 'meta'));
  const times = [`valid from ${when(f.valid_at)}`,
    f.invalid_at ? `valid until ${when(f.invalid_at)}` : 'still true',
    f.expired_at && `retired ${when(f.expired_at)}`, `learned ${when(f.created_at)}`].filter(Boolean).join(' · ');
  li.append(el('p', times, 'meta'));
  if (ended) li.classList.add('revoked');
  return li;
}

async function showEntity(e) {
  const full = await call('GET', `/v1/entities/${encodeURIComponent(e.id)}`);
  const q = new URLSearchParams({ entity_id: e.id, include_invalid: 'true', limit: '200' });
  if (full.user_id) q.set('user_id', full.user_id);
  const res = await call('GET', `/v1/facts?${q}`);
  $('entity-title').textContent = `${full.name} (${full.type})`;
  const aliases = (full.aliases || []).length ? `also ${full.aliases.join(', ')}` : '';
  $('entity-meta').textContent = [aliases, `${full.mentions} mentions`, `first seen ${when(full.created_at)}`].filter(Boolean).join(' · ');
  const list = $('entity-facts');
  list.replaceChildren();
  const facts = (res.results || []).slice().sort((a, b) =>
    (!!(a.invalid_at || a.expired_at) - !!(b.invalid_at || b.expired_at)) || String(b.valid_at).localeCompare(String(a.valid_at)));
  for (const f of facts) list.append(factItem(f));
  for (const o of full.observations || []) list.append(el('li', `observation: ${o}`, 'meta'));
  if (!list.children.length) list.append(el('li', 'No facts.', 'meta empty'));
  $('entity-detail').hidden = false;
  $('entity-title').focus();
}

function entityItem(e) {
  const li = el('li');
  li.dataset.id = e.id;
  li.dataset.name = e.name;
  li.append(el('p', e.name, 'content'));
  li.append(el('p', [e.type, `${e.mentions} mentions`, (e.aliases || []).length && `also ${e.aliases.join(', ')}`,
    `updated ${when(e.updated_at)}`].filter(Boolean).join(' · '), 'meta'));
  const actions = el('div', undefined, 'actions');
  actions.append(button('Facts', 'facts', `Show the facts of ${e.name}`, async () => {
    try { await showEntity(e); } catch (err) { fail(err); }
  }));
  if (mayForget()) {
    actions.append(button('Forget', 'forget danger', `Forget ${e.name}`, async () => {
      if (!confirm(`Forget "${e.name}"? Its name, aliases, facts and mentions become unreadable for good.`)) return;
      try {
        const r = await call('DELETE', `/v1/entities/${encodeURIComponent(e.id)}`);
        $('entity-detail').hidden = true;
        await loadKnowledge();
        say(`${e.name} forgotten: ${r.facts_deleted} facts and ${r.mentions_deleted} mentions deleted.`);
      } catch (err) { fail(err); }
    }));
  }
  li.append(actions);
  return li;
}

async function showEpisode(id) {
  const ep = await call('GET', `/v1/episodes/${encodeURIComponent(id)}`);
  $('episode-meta').textContent = [`${ep.status}`, `extractor ${ep.extractor}`, when(ep.created_at),
    ep.error && `error ${ep.error.code}: ${ep.error.message}`].filter(Boolean).join(' · ');
  const msgs = $('episode-messages');
  msgs.replaceChildren();
  for (const m of ep.messages || []) msgs.append(el('li', `${m.name || m.role}: ${m.content}`));
  const made = $('episode-made');
  made.replaceChildren();
  for (const e of ep.entities || []) made.append(el('li', `entity ${e.name}${e.type ? ` (${e.type})` : ''}: ${e.event}`));
  for (const f of ep.facts || []) made.append(el('li', `fact "${f.fact}": ${f.event}`));
  made.append(el('li', `${(ep.memories || []).length} memories`, 'meta'));
  $('episode-detail').hidden = false;
}

const SVG = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

// drawGraph draws the current facts that link two entities: the entities on
// a circle, a line per fact labelled with its predicate. Built with DOM
// APIs (no markup parsed, no style attribute); #relation-list says the same
// in words.
function drawGraph(facts) {
  const svg = $('knowledge-graph');
  const rels = $('relation-list');
  svg.replaceChildren();
  rels.replaceChildren();
  const links = facts.filter((f) => f.object && f.object.id && !f.invalid_at && !f.expired_at);
  for (const f of links) {
    const li = el('li', `${f.subject.name} —${f.predicate}→ ${f.object.name}`);
    li.dataset.id = f.id;
    rels.append(li);
  }
  if (!links.length) {
    $('graph-box').hidden = true;
    rels.append(el('li', 'No relations between entities.', 'meta empty'));
    return;
  }
  const nodes = new Map();
  for (const f of links) for (const e of [f.subject, f.object]) if (!nodes.has(e.id)) nodes.set(e.id, e.name);
  const ids = [...nodes.keys()];
  const pos = new Map(ids.map((id, i) => {
    const a = (2 * Math.PI * i) / ids.length - Math.PI / 2;
    return [id, { x: 300 + 220 * Math.cos(a), y: 180 + 130 * Math.sin(a) }];
  }));
  for (const f of links) {
    const a = pos.get(f.subject.id);
    const b = pos.get(f.object.id);
    svg.append(svgEl('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: 'edge' }));
    svg.append(svgEl('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, class: 'edge-label', 'text-anchor': 'middle' }, f.predicate));
  }
  for (const id of ids) {
    const p = pos.get(id);
    svg.append(svgEl('circle', { cx: p.x, cy: p.y, r: 8, class: 'node' }));
    svg.append(svgEl('text', { x: p.x, y: p.y + 24, class: 'node-label', 'text-anchor': 'middle' }, nodes.get(id)));
  }
  $('graph-box').hidden = false;
}

async function loadKnowledge() {
  const user = $('knowledge-user').value.trim();
  if (!user) { clearKnowledge(); return; }
  const q = new URLSearchParams({ user_id: user, limit: '100' });
  const [ents, eps, facts] = await Promise.all([call('GET', `/v1/entities?${q}`),
    call('GET', `/v1/episodes?${new URLSearchParams({ user_id: user, limit: '20' })}`),
    call('GET', `/v1/facts?${new URLSearchParams({ user_id: user, limit: '200' })}`)]);
  drawGraph(facts.results || []);
  const list = $('entity-list');
  list.replaceChildren();
  for (const e of ents.results || []) list.append(entityItem(e));
  if (!list.children.length) list.append(el('li', 'No entities.', 'meta empty'));
  const elist = $('episode-list');
  elist.replaceChildren();
  for (const ep of eps.results || []) {
    const li = el('li');
    li.dataset.id = ep.episode_id;
    li.append(el('p', `${when(ep.created_at)} · ${ep.status}`, 'content'));
    li.append(el('p', [ep.user_id && `user ${ep.user_id}`, `extractor ${ep.extractor}`].filter(Boolean).join(' · '), 'meta'));
    const actions = el('div', undefined, 'actions');
    actions.append(button('View', 'view', `View the episode of ${when(ep.created_at)}`, async () => {
      try { await showEpisode(ep.episode_id); } catch (err) { fail(err); }
    }));
    li.append(actions);
    elist.append(li);
  }
  if (!elist.children.length) elist.append(el('li', 'No episodes.', 'meta empty'));
}

$('knowledge-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('entity-detail').hidden = true;
  $('episode-detail').hidden = true;
  try { await loadKnowledge(); } catch (e) { fail(e); }
});

// --- encryption: the REST API rotates; it lists no key versions.

$('encryption-rotate').addEventListener('click', async () => {
  if (!confirm('Rotate the organisation\'s encryption keys? The old key version is destroyed once every data key is rewrapped.')) return;
  try {
    const r = await call('POST', '/v1/encryption-keys/rotate');
    $('encryption-version').textContent = `Key version ${r.tenant_key_version}: ${r.keys_rewrapped} data keys rewrapped, ${r.records_pending} records still to re-encrypt.`;
    say('The keys are rotated.');
  } catch (e) { fail(e); }
});

// --- account: password, sessions; forgot password (signed out)

async function loadSessions() {
  const r = await call('GET', '/v1/auth/sessions');
  const ul = $('session-list');
  ul.replaceChildren();
  for (const x of r.results || []) {
    const li = el('li');
    li.dataset.id = x.id;
    if (x.revoked_at) li.classList.add('revoked');
    const what = [x.method, x.client_id && `client ${x.client_id}`, x.current && 'this session'].filter(Boolean).join(' · ');
    li.append(el('p', what, 'content'));
    const state = x.revoked_at
      ? `ended ${when(x.revoked_at)}${x.revoke_reason ? ` (${x.revoke_reason})` : ''}`
      : 'active';
    li.append(el('p', `started ${when(x.created_at)} · ${state}`, 'meta'));
    ul.append(li);
  }
  if (!ul.children.length) ul.append(el('li', 'No sessions.'));
}

$('password-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const cur = $('password-current');
  const nw = $('password-new');
  try {
    await call('POST', '/v1/auth/password', { current_password: cur.value, new_password: nw.value });
    cur.value = '';
    nw.value = '';
    say('Your password is changed; your other sessions have ended.');
    await loadSessions();
  } catch (e) {
    cur.value = '';
    nw.value = '';
    fail(e);
  }
});

$('signout-everywhere').addEventListener('click', async () => {
  if (!confirm('Sign out of every session, this one included?')) return;
  try {
    await call('POST', '/v1/auth/logout-everywhere');
  } catch (e) { fail(e); return; }
  try { await dropCookies(); } catch { /* the session has ended either way */ }
  $('session-list').replaceChildren();
  showSignedOut();
  say('Signed out everywhere.');
  $('login-email').focus();
});

$('forgot-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { email: $('forgot-email').value.trim() };
  const tenant = $('forgot-tenant').value.trim();
  if (tenant) body.tenant = tenant;
  $('forgot-status').textContent = '';
  try {
    await publicCall('POST', '/v1/auth/password-reset', body);
    // The server answers the same whether or not the address has an account.
    $('forgot-status').textContent = 'If an account has this address, a link to set a new password is on its way.';
  } catch (e) { fail(e); }
});

// --- single sign-on: the configuration (owner), and the sign-in entry

function showSSO(c) {
  const dl = $('sso-current');
  dl.replaceChildren();
  // Reading is sso:admin (owners, admins); setting and removing, owners only.
  $('sso-remove').hidden = !c || account.role !== 'owner';
  if (!c) {
    $('sso-status').textContent = 'No single sign-on is configured.';
    return;
  }
  $('sso-status').textContent = `Configured: ${c.kind === 'saml' ? 'SAML 2.0' : 'OpenID Connect'}.`;
  const rows = [];
  if (c.oidc) {
    rows.push(['Issuer', c.oidc.issuer], ['Client id', c.oidc.client_id],
      ['Client secret', c.oidc.client_secret_set ? 'stored' : 'none'], ['Redirect URL (register it at the provider)', c.oidc.redirect_url]);
  }
  if (c.saml) {
    rows.push(['SP entity id', c.saml.entity_id], ['ACS URL', c.saml.acs_url], ['SP metadata', c.saml.metadata_url]);
  }
  const pol = c.policy || {};
  rows.push(['New members at first sign-in', pol.jit ? `yes, as ${pol.default_role || 'reader'}` : 'no']);
  if (c.updated_at) rows.push(['Updated', when(c.updated_at)]);
  for (const [k, v] of rows) {
    if (!v) continue;
    dl.append(el('dt', k), el('dd', v));
  }
}

async function loadSSO() {
  try {
    showSSO(await call('GET', '/v1/sso'));
  } catch (e) {
    if (e instanceof APIError && e.status === 404) { showSSO(null); return; }
    throw e;
  }
}

$('sso-config-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const kind = $('sso-kind').value;
  const body = { kind, policy: { jit: $('sso-jit').checked, default_role: $('sso-default-role').value } };
  if (kind === 'oidc') {
    body.oidc = { issuer: $('sso-issuer').value.trim(), client_id: $('sso-client-id').value.trim() };
    const secret = $('sso-client-secret').value;
    if (secret) body.oidc.client_secret = secret;
  } else {
    body.saml = { idp_metadata: $('sso-metadata').value, trust_emails: $('sso-trust-emails').checked };
  }
  try {
    const c = await call('PUT', '/v1/sso', body);
    $('sso-client-secret').value = '';
    showSSO(c);
    say('Single sign-on is saved.');
  } catch (e) { fail(e); }
});

$('sso-remove').addEventListener('click', async () => {
  if (!confirm('Remove single sign-on? Its users can no longer sign in through it.')) return;
  try {
    await call('DELETE', '/v1/sso');
    showSSO(null);
    say('Single sign-on is removed.');
  } catch (e) { fail(e); }
});

// The SSO sign-in is a top-level navigation to the server's begin route,
// which redirects to the organisation's IdP and comes back with cookies.
$('sso-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const tenant = $('sso-tenant').value.trim();
  if (tenant) location.assign(`/v1/sso/${encodeURIComponent(tenant)}/begin`);
});

// --- one-time links (/accept, /reset, /verify #token=…): the token is in
// the fragment, which browsers never send to a server; the page takes it
// and drops it from the address bar and the history at once.

let linkToken = '';

function takeLinkToken() {
  const t = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  history.replaceState(null, '', '/console/');
  return t;
}

function toSignIn(msg, email) {
  linkToken = '';
  if (email) $('login-email').value = email;
  showSignedOut();
  say(msg);
  (email ? $('login-password') : $('login-email')).focus();
}

$('accept-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pw = $('accept-password');
  const body = { token: linkToken, password: pw.value };
  const name = $('accept-name').value.trim();
  if (name) body.name = name;
  try {
    const m = await publicCall('POST', '/v1/invitations/accept', body);
    pw.value = '';
    toSignIn('Your account is active: sign in.', m && m.email);
  } catch (e) {
    pw.value = '';
    fail(e);
  }
});

$('reset-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pw = $('reset-password');
  try {
    await publicCall('POST', '/v1/auth/password-reset/confirm', { token: linkToken, password: pw.value });
    pw.value = '';
    toSignIn('Your password is set: sign in with it.');
  } catch (e) {
    pw.value = '';
    fail(e);
  }
});

// linkPage shows the page of a one-time link, or answers false.
async function linkPage() {
  const page = { '/accept': 'accept', '/reset': 'reset', '/verify': 'verify' }[location.pathname];
  if (!page) return false;
  linkToken = takeLinkToken();
  show(page);
  if (!linkToken) {
    $('error').textContent = 'This link has no token: open the whole link from the message.';
    return true;
  }
  if (page === 'verify') {
    try {
      await publicCall('POST', '/v1/auth/verify-email', { token: linkToken });
      linkToken = '';
      $('verify-status').textContent = 'Your email address is confirmed.';
    } catch (e) { fail(e); }
  }
  return true;
}

// --- start

window.addEventListener('hashchange', () => { if (!linkToken) route(); });
(async () => {
  try {
    if (await linkPage()) return;
    const m = await me();
    if (m) await signedIn(m); else showSignedOut();
  } catch (e) {
    showSignedOut();
    fail(e);
  }
})();

// --- import (owners: tenant:admin)

async function runImport(dryRun) {
  const file = $('import-file').files[0];
  if (!file) { $('error').textContent = 'Choose the document to import.'; return; }
  const q = new URLSearchParams({ format: $('import-format').value, mode: $('import-mode').value });
  if (dryRun) q.set('dry_run', 'true');
  const to = $('import-to-user').value.trim();
  if (to) q.set('to_user_id', to);
  const st = $('import-status');
  st.textContent = dryRun ? 'Checking…' : 'Importing…';
  $('import-report').hidden = true;
  try {
    const r = await upload(`/v1/import?${q}`, file);
    const body = $('import-kinds');
    body.replaceChildren();
    for (const kind of Object.keys(r.kinds || {}).sort()) {
      const c = r.kinds[kind];
      const tr = el('tr');
      tr.dataset.kind = kind;
      const th = el('th', kind);
      th.scope = 'row';
      tr.append(th, el('td', String(c.created)), el('td', String(c.overwritten)), el('td', String(c.skipped)));
      body.append(tr);
    }
    $('import-report').hidden = false;
    const signed = r.verified ? `signature verified (key ${r.key_id})` : 'unsigned';
    st.textContent = `${r.dry_run ? 'Dry run' : 'Import'}: ${r.records} records read, committed ${r.committed}; ${signed}.`;
    if (!r.dry_run) say('Import done.');
  } catch (e) {
    st.textContent = '';
    fail(e);
  }
}

$('import-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  await runImport(true);
});

$('import-commit').addEventListener('click', async () => {
  if (!$('import-file').files[0]) { $('error').textContent = 'Choose the document to import.'; return; }
  if (!confirm('Import this document into the organisation?')) return;
  await runImport(false);
});

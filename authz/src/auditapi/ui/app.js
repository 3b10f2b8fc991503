// The audit explorer: plain JavaScript, no build step. It calls the audit API (same origin, the
// token in an Authorization header) and builds the page from text nodes only (never innerHTML).
const TOKEN_KEY = 'mem0gov-audit-token';
const $ = (sel) => document.querySelector(sel);
let nextCursor = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function status(text, error = false) {
  const s = $('#status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
  return e;
}

async function api(path, params = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  const res = await fetch(`/audit/${path}${qs.size > 0 ? `?${qs}` : ''}`, { headers: { authorization: `Bearer ${token()}` } });
  if (!res.ok) {
    let reason = `HTTP ${res.status}`;
    try {
      const body = await res.json();
      reason = `${body.reason ?? reason}${body.message ? `: ${body.message}` : ''}`;
    } catch { /* not JSON */ }
    throw new Error(`${res.status} ${reason}`);
  }
  return res;
}

function showIdentity() {
  const t = token();
  if (t === '') {
    $('#whoami').textContent = 'No token: paste one above.';
    return;
  }
  try {
    const claims = JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const roles = claims.realm_access?.roles ?? claims.roles ?? [];
    $('#whoami').textContent = `Token of ${claims.sub ?? '?'} (tenant ${claims.tenant ?? claims.tid ?? '?'}; roles ${[].concat(roles).join(', ') || 'none'}).`;
  } catch {
    $('#whoami').textContent = 'Token set (not a readable JWT).';
  }
}

function localToIso(v) {
  return v === '' ? '' : new Date(v).toISOString();
}

function filters() {
  const f = new FormData($('#filters'));
  return {
    since: localToIso(f.get('since')), until: localToIso(f.get('until')), tenant: f.get('tenant').trim(), actor: f.get('actor').trim(),
    agent: f.get('agent').trim(), memory: f.get('memory').trim(), route: f.get('route'), decision: f.get('decision'), kind: f.get('kind'),
  };
}

function parseDetail(row) {
  try {
    return row.detail ? JSON.parse(row.detail) : null;
  } catch {
    return null;
  }
}

/** What a row says happened, in words: an outcome's Mem0 answer, else the reasons. */
function happened(row) {
  const d = parseDetail(row);
  if (row.kind === 'outcome' && d) {
    const parts = [];
    if (d.upstream_status !== undefined) parts.push(`Mem0 answered ${d.upstream_status}`);
    if (d.returned !== undefined) parts.push(`returned ${d.returned}`);
    if (d.affected !== undefined && d.affected !== null) parts.push(`affected ${d.affected}`);
    if (d.withheld_phi) parts.push(`withheld (PHI) ${d.withheld_phi.join(', ')}`);
    if (d.withheld_cross_tenant) parts.push(`withheld (other tenant) ${d.withheld_cross_tenant.join(', ')}`);
    if (d.error) parts.push(`error ${d.error}`);
    return parts.join('; ') || row.reasons.join(', ');
  }
  return row.reasons.join(', ');
}

function memoryCell(id) {
  if (!id) return '';
  return el('button', { type: 'button', class: 'linklike', 'aria-label': `Show the trail of memory ${id}`, onclick: () => openTrail(id) }, id);
}

function eventRow(r) {
  return el('tr', {},
    el('td', {}, r.ts), el('td', { class: `decision-${r.decision}` }, r.decision), el('td', {}, r.kind ?? 'decision'), el('td', {}, r.tenant ?? ''),
    el('td', {}, r.actor_sub ?? ''), el('td', {}, r.agent ?? ''), el('td', {}, `${r.route ?? ''} (${r.method} ${r.path})`), el('td', {}, memoryCell(r.memory_id)),
    el('td', {}, String(r.status)), el('td', {}, happened(r)));
}

async function search(cursor = null) {
  const tbody = $('#events tbody');
  if (cursor === null) tbody.replaceChildren();
  status('Searching…');
  try {
    const res = await api('events', { ...filters(), limit: '100', cursor: cursor ?? undefined });
    const body = await res.json();
    for (const r of body.rows) tbody.append(eventRow(r));
    nextCursor = body.next_cursor;
    $('#more').hidden = nextCursor === null;
    const shown = tbody.children.length;
    status(`${shown} row${shown === 1 ? '' : 's'}${nextCursor ? ' (more available)' : ''}; scope: ${body.scope.tenant ?? 'every tenant'}.`);
  } catch (err) {
    status(`Search failed: ${err.message}`, true);
  }
}

async function openTrail(id) {
  status(`Loading the trail of memory ${id}…`);
  try {
    const body = await (await api(`memories/${encodeURIComponent(id)}`)).json();
    const tbody = $('#trail tbody');
    tbody.replaceChildren(...body.rows.map((r) => el('tr', {},
      el('td', {}, r.ts), el('td', {}, r.kind ?? 'decision'), el('td', { class: `decision-${r.decision}` }, r.decision), el('td', {}, r.actor_sub ?? ''),
      el('td', {}, r.agent ?? ''), el('td', {}, `${r.method} ${r.path}`), el('td', {}, String(r.status)), el('td', {}, happened(r)))));
    $('#trail-caption').textContent = `Memory ${id}: ${body.rows.length} row${body.rows.length === 1 ? '' : 's'}${body.truncated ? ' (first ones only)' : ''}, oldest first`;
    $('#trail-section').hidden = false;
    $('#trail-h').focus();
    status(`Trail of memory ${id} loaded.`);
  } catch (err) {
    status(`Trail failed: ${err.message}`, true);
  }
}

async function loadChains() {
  const list = $('#chains');
  try {
    const body = await (await api('chains')).json();
    list.replaceChildren(...body.chains.map((c) => {
      const cls = c.verified === 'verified' ? 'ok' : c.verified === 'broken' ? 'bad' : 'none';
      const s = c.status;
      const text = [` ${c.chain_id}: head seq ${c.head_seq ?? '–'}`];
      if (c.archived_through) text.push(`archived through seq ${c.archived_through.seq}`);
      if (s?.checkpoint_seq) text.push(`last verified checkpoint seq ${s.checkpoint_seq}`);
      if (s) text.push(`checked ${s.verified_at} by ${s.verifier}`);
      const item = el('li', { 'data-chain': c.chain_id }, el('span', { class: `badge ${cls}` }, c.verified), text.join('; '));
      if (s?.problem) {
        item.append(el('div', { class: 'problem' },
          `First bad row: seq ${s.problem.seq}${s.problem.event_id ? ` (event ${s.problem.event_id})` : ''}: ${s.problem.reason} — ${s.problem.detail}`));
      }
      return item;
    }));
    if (body.chains.length === 0) list.replaceChildren(el('li', {}, 'No chains yet.'));
  } catch (err) {
    list.replaceChildren(el('li', {}, `Chains unavailable: ${err.message}`));
  }
}

async function download(kind, format) {
  const f = filters();
  status(`Preparing the ${kind === 'export' ? 'export' : 'evidence pack'}…`);
  try {
    const res = await api(kind, { since: f.since, until: f.until, tenant: kind === 'export' ? f.tenant : undefined, format });
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${kind}.tar`;
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status(`Downloaded ${name} (sha256 ${res.headers.get('x-content-sha256') ?? '?'}).`);
  } catch (err) {
    status(`Download failed: ${err.message}`, true);
  }
}

function start() {
  $('#token').value = token();
  const since = new Date(Date.now() - 86_400_000);
  $('#filters [name=since]').value = new Date(since.getTime() - since.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
    showIdentity();
    void loadChains();
    void search();
  });
  $('#forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('#token').value = '';
    showIdentity();
  });
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void search();
  });
  $('#more').addEventListener('click', () => void search(nextCursor));
  $('#refresh-chains').addEventListener('click', () => void loadChains());
  for (const b of document.querySelectorAll('[data-download]')) b.addEventListener('click', () => void download(b.dataset.download, b.dataset.format));
  showIdentity();
  if (token() !== '') {
    void loadChains();
    void search();
  }
}

start();

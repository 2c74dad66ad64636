import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LotBridgeError, errorCatalog, isLotBridgeError, classifyError } from '../errors';
import { getInboundMessage, type DbInboundMessageRow } from '../ingest/message-store';
import { isPayloadEncrypted, plainPayload } from '../ingest/stored-payload';
import { reprocessMessage } from '../pipeline/reprocess';
import { lineageOf } from '../api/routes/messages.routes';
import type { HubApiContext } from '../api/server';
import { fromRoot } from '../paths';
import { html, layout, raw, type PageUser, type SafeHtml } from './html';
import { checkCsrf, login, logout, sessionOf, type ConsoleUser } from './session';
import { MESSAGE_STATUSES, parseSearch, searchMessages, searchParams, type MessageSearch } from './search';
import { decodeForDisplay, maskErrorMessage, maskHl7, renderParsed, renderRaw, splitLines, type ErrorLocation } from './raw-view';
import type { ConsoleJobRow } from './jobs';
import { registerDashboard } from './dashboard';
import { registerBullBoard } from './bull-board';

/** Paths under /console that need no session. */
const OPEN = [/^\/console\/login$/, /^\/console\/static\//];

const STATIC_DIR = fromRoot('public', 'console');
const STATIC_TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };

function pageUser(u: ConsoleUser): PageUser {
  return { username: u.username, role: u.role, csrf: u.csrf };
}

/** Operators and admins act; auditors only read. */
export function canAct(u: ConsoleUser | undefined): boolean {
  return u?.role === 'operator' || u?.role === 'admin';
}

function requireActor(req: FastifyRequest): ConsoleUser {
  const u = req.consoleUser;
  if (!u) throw new LotBridgeError('LB_ERR_CONSOLE_SESSION', 'log in first');
  checkCsrf(req, u);
  if (!canAct(u)) {
    throw new LotBridgeError('LB_ERR_AUTH_FORBIDDEN', `role "${u.role}" may not do this; it needs one of: operator, admin`);
  }
  return u;
}

function wantsHtml(req: FastifyRequest): boolean {
  const a = req.headers.accept ?? '';
  return !a.includes('application/json') && (a.includes('text/html') || a === '' || a.includes('*/*'));
}

function fmtTime(d: Date | string | null | undefined): string {
  if (!d) return '';
  const t = d instanceof Date ? d : new Date(d);
  return Number.isNaN(t.getTime()) ? String(d) : t.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function statusBadge(s: string): SafeHtml {
  return html`<span class="badge st-${s}">${s}</span>`;
}

/** Sends a page. */
function page(reply: FastifyReply, title: string, user: ConsoleUser | null, body: SafeHtml, opts: { status?: number; scripts?: string[]; active?: string } = {}): FastifyReply {
  return reply
    .status(opts.status ?? 200)
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    .type('text/html; charset=utf-8')
    .send(layout(title, user ? pageUser(user) : null, body, opts));
}

/** The form of a search, filled with its current values. */
function searchForm(s: MessageSearch, connectors: string[]): SafeHtml {
  const input = (name: keyof MessageSearch, label: string, placeholder = '', type = 'text'): SafeHtml =>
    html`<label>${label}<input type="${type}" name="${name}" value="${s[name] ?? ''}" placeholder="${placeholder}"></label>`;
  return html`<form method="get" action="/console" class="search" role="search">
    ${input('id', 'Message id', 'uuid')}
    <label>Connector<input name="connector" list="connectors" value="${s.connector ?? ''}"><datalist id="connectors">${connectors.map((c) => html`<option value="${c}">`)}</datalist></label>
    <label>Format<select name="format"><option value="">any</option>${['hl7v2', 'json', 'csv', 'x12', 'edifact', 'b2mml'].map((f) => html`<option ${s.format === f ? raw('selected') : ''}>${f}</option>`)}</select></label>
    ${input('type', 'Message type', 'DFT^P03')}
    ${input('sender', 'Sender')}
    ${input('control', 'Control number', 'MSH-10 / ISA13 / doc id; prefix*')}
    <label>Status<select name="status"><option value="">any</option>${MESSAGE_STATUSES.map((st) => html`<option ${s.status === st ? raw('selected') : ''}>${st}</option>`)}</select></label>
    ${input('error', 'Error code', 'LB_ERR_…')}
    ${input('from', 'Received from', '2026-03-01T00:00Z')}
    ${input('to', 'Received before', '2026-03-02')}
    ${input('lot', 'Lot')}
    ${input('gtin', 'GTIN')}
    ${input('serial', 'Serial')}
    <label>Resolved<select name="resolved"><option value="">any</option><option value="open" ${s.resolved === 'open' ? raw('selected') : ''}>open</option><option value="resolved" ${s.resolved === 'resolved' ? raw('selected') : ''}>resolved</option></select></label>
    <div class="buttons"><button type="submit">Search</button> <a href="/console">Clear</a></div>
  </form>`;
}

/** Text of a stored payload for display, PHI masked unless `reveal`. */
function payloadText(ctx: HubApiContext, m: DbInboundMessageRow, reveal: boolean): { text: string; charset: string; invalidBytes: number; masked: number; error?: string } | null {
  if (!m.payload) return null;
  let bytes: Buffer;
  try {
    bytes = plainPayload(m, ctx.phi) ?? Buffer.alloc(0);
  } catch (err) {
    return { text: '', charset: '', invalidBytes: 0, masked: 0, error: `the payload cannot be opened: ${(err as Error).message}` };
  }
  const d = decodeForDisplay(bytes, m.encoding);
  if (m.format === 'hl7v2' && !reveal) {
    const r = maskHl7(d.text, ctx.phi ? (v) => ctx.phi!.mask(v) : undefined);
    return { ...d, text: r.text, masked: r.masked };
  }
  return { ...d, masked: 0 };
}

async function auditReveal(ctx: HubApiContext, user: ConsoleUser, m: DbInboundMessageRow, purpose: 'view' | 'edit'): Promise<void> {
  await ctx.db('audit_log').insert({
    chain: 'admin', actor: `console:${user.username}`, action: 'message.phi_reveal', entity_type: 'inbound_message', entity_id: m.id,
    after: JSON.stringify({ role: user.role, purpose, encrypted: isPayloadEncrypted(m) }), source_message_id: m.id,
  });
}

async function messageDetail(ctx: HubApiContext, req: FastifyRequest, reply: FastifyReply, id: string, reveal: boolean): Promise<FastifyReply> {
  const user = req.consoleUser!;
  const m = await getInboundMessage(ctx.db, id);
  if (!m) throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
  if (reveal) await auditReveal(ctx, user, m, 'view');
  const p = payloadText(ctx, m, reveal);
  const loc = (m.error_location ?? null) as ErrorLocation | null;
  const lines = p && !p.error ? splitLines(p.text, m.format) : [];
  const [ackRow, lineage, audit, edits, attempts] = await Promise.all([
    ctx.db('message_acks').where({ message_id: m.id }).first<{ ack: unknown; created_at: Date } | undefined>('ack', 'created_at'),
    lineageOf(ctx.db, m.id),
    ctx.db('audit_log').where({ source_message_id: m.id }).orWhere((b) => b.where({ entity_type: 'inbound_message', entity_id: m.id })).orderBy('seq').limit(200)
      .select<Array<{ seq: number; at: Date; actor: string; action: string; entity_type: string; entity_id: string | null; reason: string | null; after: unknown }>>('seq', 'at', 'actor', 'action', 'entity_type', 'entity_id', 'reason', 'after'),
    ctx.db('inbound_messages').where({ edit_of: m.id }).orderBy('id').select<Array<{ id: string; status: string; received_at: Date }>>('id', 'status', 'received_at'),
    deliveryAttempts(ctx, m.id),
  ]);
  const lotIds = lineage.filter((r) => r.table === 'lots').map((r) => String(r.id));
  const lotNames = lotIds.length ? new Map(((await ctx.db('lots').whereIn('id', lotIds).select('id', 'lot_number')) as Array<{ id: string; lot_number: string }>).map((r) => [r.id, r.lot_number])) : new Map<string, string>();
  // what each trace event was, and the lots it moved (links to the messages that touched them)
  const eventIds = lineage.filter((r) => r.table === 'trace_events').map((r) => String(r.id));
  const events = new Map<string, { what: string; lots: string[] }>();
  if (eventIds.length) {
    const evRows = (await ctx.db('trace_events as e').leftJoin('trace_event_items as i', 'i.event_id', 'e.id').leftJoin('lots as l', 'l.id', 'i.lot_id').whereIn('e.id', eventIds)
      .select('e.id', 'e.type', 'e.action', 'e.biz_step', 'e.event_time', 'l.lot_number')) as Array<{ id: string; type: string; action: string | null; biz_step: string; event_time: Date; lot_number: string | null }>;
    for (const r of evRows) {
      const e = events.get(r.id) ?? { what: `${r.type}${r.action ? ` ${r.action}` : ''} · ${r.biz_step} · ${fmtTime(r.event_time)}`, lots: [] };
      if (r.lot_number && !e.lots.includes(r.lot_number)) e.lots.push(r.lot_number);
      events.set(r.id, e);
    }
  }
  const act = canAct(user);
  const ack = ackRow?.ack ?? (m.ack ? (() => { try { return JSON.parse(m.ack!) as unknown; } catch { return m.ack; } })() : null);
  const phiHidden = m.format === 'hl7v2' && !reveal && (p?.masked ?? 0) > 0;
  const phiMask = ctx.phi ? (v: string): string => ctx.phi!.mask(v) : undefined;
  const body = html`
  <h1>Message <code>${m.id}</code> ${statusBadge(m.status)} ${m.resolved_at ? html`<span class="badge st-resolved">resolved</span>` : ''}</h1>
  <div class="cols">
  <dl class="facts">
    <dt>Connector</dt><dd><a href="/console?connector=${encodeURIComponent(m.connector_id)}">${m.connector_id}</a> (${m.connector_kind})</dd>
    <dt>Format · transport</dt><dd>${m.format} · ${m.transport}</dd>
    <dt>Type</dt><dd>${m.message_type ?? '—'}</dd>
    <dt>Sender → receiver</dt><dd>${m.sender ?? '—'} → ${m.receiver ?? '—'}</dd>
    <dt>Control number</dt><dd>${m.control_id ?? '—'}</dd>
    <dt>Received</dt><dd>${fmtTime(m.received_at)}</dd>
    <dt>Processed</dt><dd>${fmtTime(m.processed_at) || '—'} (attempts ${m.attempts})</dd>
    <dt>Size · sha256</dt><dd>${m.size_bytes} bytes · <code class="small">${m.sha256}</code></dd>
    ${m.duplicate_of ? html`<dt>Duplicate of</dt><dd><a href="/console/messages/${m.duplicate_of}">${m.duplicate_of}</a></dd>` : ''}
    ${m.edit_of ? html`<dt>Edited copy of</dt><dd><a href="/console/messages/${m.edit_of}">${m.edit_of}</a></dd>` : ''}
    ${edits.length ? html`<dt>Edited copies</dt><dd>${edits.map((e) => html`<a href="/console/messages/${e.id}">${e.id}</a> ${statusBadge(e.status)}<br>`)}</dd>` : ''}
    ${m.resolved_at ? html`<dt>Resolved</dt><dd>${fmtTime(m.resolved_at)} by ${m.resolved_by ?? ''}${m.resolution_note ? html` — ${m.resolution_note}` : ''}</dd>` : ''}
  </dl>
  ${act ? html`<div class="actions">
    <form method="post" action="/console/messages/${m.id}/reprocess"><input type="hidden" name="_csrf" value="${user.csrf}"><button ${m.status === 'duplicate' || !m.payload ? raw('disabled') : ''}>Reprocess</button></form>
    ${m.payload ? html`<a class="button" href="/console/messages/${m.id}/edit">Edit &amp; reprocess</a>` : ''}
    ${!m.resolved_at && ['failed', 'rejected'].includes(m.status) ? html`<form method="post" action="/console/messages/${m.id}/resolve"><input type="hidden" name="_csrf" value="${user.csrf}"><input name="note" placeholder="note (optional)" maxlength="500"><button>Mark resolved</button></form>` : ''}
    ${phiHidden ? html`<form method="post" action="/console/messages/${m.id}/reveal"><input type="hidden" name="_csrf" value="${user.csrf}"><button class="warn" title="Shows patient fields; the reveal is written to the audit log">Reveal PHI</button></form>` : ''}
  </div>` : html`<p class="muted">Read-only (${user.role}).</p>`}
  </div>
  ${m.error_code ? html`<section class="error" id="error"><h2>Error</h2><p><code>${m.error_code}</code> ${reveal || m.format !== 'hl7v2' ? m.error_message : maskErrorMessage(m.error_message ?? '', loc, phiMask)}</p>${loc ? html`<p class="muted">Location: <code>${JSON.stringify(loc)}</code></p>` : ''}</section>` : ''}
  ${(m.record_errors ?? []).length ? html`<section class="error"><h2>Record errors</h2><ul>${(m.record_errors ?? []).map((e) => html`<li><code>${e.code}</code> ${reveal || m.format !== 'hl7v2' ? e.message : maskErrorMessage(e.message, e.location as ErrorLocation | undefined, phiMask)} ${e.location ? html`<span class="muted">${JSON.stringify(e.location)}</span>` : ''}</li>`)}</ul></section>` : ''}
  <section><h2>Raw</h2>
    ${!p ? html`<p class="muted">No payload stored (it was over the size limit).</p>`
      : p.error ? html`<p class="error">${p.error}</p>`
      : html`<p class="muted">${lines.length} ${m.format === 'hl7v2' || m.format.startsWith('x12') || m.format.startsWith('edifact') ? 'segments' : 'lines'} · ${p.charset}${p.invalidBytes ? html` · <b>${p.invalidBytes} invalid byte${p.invalidBytes === 1 ? '' : 's'} shown as \\xNN</b>` : ''}${phiHidden ? html` · <b>${p.masked} PHI field${p.masked === 1 ? '' : 's'} masked</b>` : reveal ? html` · <b class="warn">PHI revealed (audited)</b>` : ''}</p>
        ${renderRaw(lines, m.format, p.text, loc)}`}
  </section>
  ${p && !p.error ? html`<section><h2>Parsed</h2>${renderParsed(p.text, m.format, lines)}</section>` : ''}
  <section><h2>Canonical rows (${lineage.length})</h2>
    ${lineage.length ? html`<table class="grid"><tr><th>ordinal</th><th>table</th><th>id</th></tr>${lineage.map((r) => {
      const id = String(r.id);
      const lotLink = (lot: string): SafeHtml => html`<a href="/console?lot=${encodeURIComponent(lot)}" title="messages that touched this lot">${lot}</a>`;
      const ev = events.get(id);
      const cell = r.table === 'lots' && lotNames.has(id) ? html`${lotLink(lotNames.get(id)!)} <code class="small">${id}</code>`
        : ev ? html`${ev.what}${ev.lots.length ? html` · lot ${ev.lots.map((l, i) => html`${i ? ', ' : ''}${lotLink(l)}`)}` : ''} <code class="small">${id}</code>`
        : html`<code class="small">${id}</code>`;
      return html`<tr><td>${r.ordinal}</td><td>${r.table}</td><td>${cell}</td></tr>`;
    })}</table>` : html`<p class="muted">None.</p>`}
  </section>
  <section><h2>ACK sent</h2>${ack ? html`<pre class="json">${JSON.stringify(ack, null, 2)}</pre>${ackRow ? html`<p class="muted">at ${fmtTime(ackRow.created_at)}</p>` : ''}` : html`<p class="muted">No acknowledgement recorded.</p>`}</section>
  <section><h2>Delivery attempts</h2>${attempts}</section>
  <section><h2>Audit (${audit.length})</h2>${audit.length ? html`<table class="grid"><tr><th>#</th><th>at</th><th>actor</th><th>action</th><th>entity</th><th>details</th></tr>${audit.map((a) => html`<tr><td>${a.seq}</td><td>${fmtTime(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td>${a.entity_type} ${a.entity_id ?? ''}</td><td><code class="small">${a.after ? JSON.stringify(a.after) : ''}</code>${a.reason ? html` ${a.reason}` : ''}</td></tr>`)}</table>` : html`<p class="muted">None.</p>`}</section>`;
  return page(reply, `Message ${m.id}`, user, body, { active: 'messages' });
}

/** Outbound deliveries a message caused (the `deliveries` table of the delivery module, when it exists): destination, status, attempts, answer. */
async function deliveryAttempts(ctx: HubApiContext, id: string): Promise<SafeHtml> {
  const t = (await ctx.db.raw<{ rows: Array<{ r: string | null }> }>("SELECT to_regclass('deliveries') AS r")).rows[0].r;
  if (!t) return html`<p class="muted">No outbound deliveries are recorded in this installation.</p>`;
  const rows = (await ctx.db('deliveries').where({ source_message_id: id }).orderBy('created_at').limit(200)
    .select('id', 'origin', 'kind', 'destination', 'status', 'attempts', 'max_attempts', 'ack', 'error_code', 'error_message', 'created_at', 'delivered_at')) as Array<Record<string, unknown>>;
  if (rows.length === 0) return html`<p class="muted">None.</p>`;
  const j = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return html`<table class="grid"><tr><th>created</th><th>origin</th><th>kind</th><th>destination</th><th>status</th><th>attempts</th><th>answer</th><th>error</th><th>delivered</th></tr>${rows.map((r) => html`<tr>
    <td>${fmtTime(r.created_at as Date)}</td><td>${j(r.origin)}</td><td>${j(r.kind)}</td><td><code class="small">${j(r.destination)}</code></td><td>${statusBadge(j(r.status))}</td>
    <td>${j(r.attempts)} / ${j(r.max_attempts)}</td><td><code class="small">${j(r.ack)}</code></td><td>${r.error_code ? html`<code>${j(r.error_code)}</code> ${j(r.error_message)}` : ''}</td><td>${fmtTime(r.delivered_at as Date | null)}</td></tr>`)}</table>`;
}

function jobView(j: ConsoleJobRow): Record<string, unknown> {
  return { id: j.id, kind: j.kind, status: j.status, cancelRequested: j.cancel_requested, total: j.total, done: j.done, skipped: j.skipped, error: j.error, createdBy: j.created_by, createdAt: j.created_at, finishedAt: j.finished_at, query: j.query };
}

/** The support console at /console: login, message search and view, actions, dead letters, bulk jobs. */
export function registerConsole(app: FastifyInstance, ctx: HubApiContext): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 11 * 1024 * 1024 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    scope.addHook('onRequest', async (req, reply) => {
      const p = req.url.split('?')[0];
      if (OPEN.some((re) => re.test(p))) return;
      const u = await sessionOf(ctx.db, req);
      if (!u) {
        if (req.method === 'GET' && wantsHtml(req)) {
          return reply.redirect(`/console/login?next=${encodeURIComponent(req.url)}`, 302);
        }
        // answered here, not thrown: plugins inside this scope (bull-board) have error handlers of their own
        const e = new LotBridgeError('LB_ERR_CONSOLE_SESSION', 'log in at /console/login first');
        return reply.status(401).header('cache-control', 'no-store').send({ error: e.toJSON() });
      }
      req.consoleUser = u;
    });

    scope.setErrorHandler((err: Error, req, reply) => {
      let e: LotBridgeError;
      if (isLotBridgeError(err)) e = err;
      else if (((err as unknown as { statusCode?: number }).statusCode ?? 500) < 500) e = new LotBridgeError('LB_ERR_API_BAD_REQUEST', err.message);
      else if (classifyError(err) === 'transient') e = new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'PostgreSQL or the queue is unavailable; try again shortly', { cause: err });
      else {
        req.log.error({ err }, 'console request failed');
        e = new LotBridgeError('LB_ERR_INTERNAL', 'internal error; the log has the details', { cause: err });
      }
      const status = errorCatalog[e.code].http;
      if (wantsHtml(req)) {
        return page(reply, 'Error', req.consoleUser ?? null, html`<section class="error"><h1>${status} · ${e.code}</h1><p>${e.message}</p><p><a href="javascript:history.back()">Back</a> · <a href="/console">Messages</a></p></section>`, { status });
      }
      return reply.status(status).send({ error: e.toJSON() });
    });

    scope.get<{ Params: { file: string } }>('/console/static/:file', async (req, reply) => {
      const f = req.params.file;
      let file: string | undefined;
      if (f === 'chart.umd.min.js') file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
      else if (/^[a-z0-9-]+\.(css|js|svg)$/.test(f)) file = path.join(STATIC_DIR, f);
      if (!file || !fs.existsSync(file)) throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no static file ${f}`);
      return reply.type(STATIC_TYPES[path.extname(file)] ?? 'application/octet-stream').header('cache-control', 'public, max-age=300').send(fs.createReadStream(file));
    });

    scope.get<{ Querystring: { next?: string } }>('/console/login', async (req, reply) => {
      return page(reply, 'Log in', null, loginForm(req.query.next));
    });

    scope.post<{ Body: { username?: string; password?: string; next?: string } }>('/console/login', async (req, reply) => {
      const b = req.body ?? {};
      const next = safeNext(b.next);
      try {
        await login(ctx.db, req, reply, String(b.username ?? '').slice(0, 200), String(b.password ?? '').slice(0, 1000));
      } catch (err) {
        if (isLotBridgeError(err) && wantsHtml(req)) {
          return page(reply, 'Log in', null, loginForm(next, err.message, String(b.username ?? '')), { status: errorCatalog[err.code].http });
        }
        throw err;
      }
      if (!wantsHtml(req)) return reply.send({ ok: true, next });
      return reply.redirect(next, 303);
    });

    scope.post('/console/logout', async (req, reply) => {
      checkCsrf(req, req.consoleUser!);
      await logout(ctx.db, req, reply);
      return reply.redirect('/console/login', 303);
    });

    scope.get<{ Querystring: Record<string, string> }>('/console', async (req, reply) => {
      const user = req.consoleUser!;
      const s = parseSearch(req.query);
      const t0 = performance.now();
      const r = await searchMessages(ctx.db, s, { before: req.query.before || undefined, limit: Number(req.query.limit) || 50 });
      const ms = performance.now() - t0;
      if (!wantsHtml(req)) {
        return reply.send({ items: r.items, next: r.next, lineageTruncated: r.lineageTruncated });
      }
      const any = Object.keys(s).length > 0;
      const body = html`
        <h1>Messages</h1>
        ${searchForm(s, [...ctx.connectors.keys()])}
        <p class="muted">${r.items.length} shown${r.next ? ' (more on the next page)' : ''} · ${ms.toFixed(0)} ms${r.lineageTruncated ? html` · <b>the lot/GTIN/serial matched more than 5,000 messages: the newest 5,000 are searched</b>` : ''}</p>
        ${r.items.length ? html`<table class="grid results"><thead><tr><th>received</th><th>status</th><th>connector</th><th>format</th><th>type</th><th>sender</th><th>control</th><th>error</th></tr></thead><tbody>
        ${r.items.map((m) => html`<tr><td><a href="/console/messages/${m.id}">${fmtTime(m.received_at)}</a></td><td>${statusBadge(m.status)}${m.resolved_at ? html` <span class="badge st-resolved">resolved</span>` : ''}${m.edit_of ? html` <span class="badge">edit</span>` : ''}</td><td>${m.connector_id}</td><td>${m.format}</td><td>${m.message_type ?? ''}</td><td>${m.sender ?? ''}</td><td>${m.control_id ?? ''}</td><td>${m.error_code ? html`<code title="${m.error_message ?? ''}">${m.error_code}</code>` : ''}</td></tr>`)}
        </tbody></table>` : html`<p>No message matches.</p>`}
        <p class="pager">${req.query.before ? html`<a href="/console?${searchParams(s)}">« Newest</a>` : ''} ${r.next ? html`<a href="/console?${searchParams(s, { before: r.next })}" rel="next">Older »</a>` : ''}</p>
        ${canAct(user) && any && r.items.length ? html`<form method="post" action="/console/reprocess-search" class="bulk" data-confirm="Reprocess every message that matches this search?">
          <input type="hidden" name="_csrf" value="${user.csrf}">${Object.entries(s).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
          <button>Reprocess all matching…</button> <span class="muted">runs as a job with progress; cancellable</span></form>` : ''}`;
      return page(reply, 'Messages', user, body, { active: 'messages', scripts: ['/console/static/console.js'] });
    });

    scope.get<{ Params: { id: string } }>('/console/messages/:id', async (req, reply) => messageDetail(ctx, req, reply, req.params.id, false));

    scope.post<{ Params: { id: string } }>('/console/messages/:id/reveal', async (req, reply) => {
      requireActor(req);
      return messageDetail(ctx, req, reply, req.params.id, true);
    });

    scope.post<{ Params: { id: string } }>('/console/messages/:id/reprocess', async (req, reply) => {
      const u = requireActor(req);
      if (!ctx.pipeline) throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'this process has no queue connection');
      const r = await reprocessMessage(ctx.db, ctx.pipeline, req.params.id, `console:${u.username}`);
      if (!wantsHtml(req)) return reply.status(202).send(r);
      return reply.redirect(`/console/messages/${req.params.id}`, 303);
    });

    scope.post<{ Params: { id: string }; Body: { note?: string } }>('/console/messages/:id/resolve', async (req, reply) => {
      const u = requireActor(req);
      const m = await getInboundMessage(ctx.db, req.params.id);
      if (!m) throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
      const note = typeof req.body?.note === 'string' ? req.body.note.slice(0, 500) : '';
      await ctx.db.transaction(async (trx) => {
        await trx('inbound_messages').where({ id: m.id }).update({ resolved_at: trx.fn.now(), resolved_by: u.username, resolution_note: note || null });
        await trx('audit_log').insert({ chain: 'admin', actor: `console:${u.username}`, action: 'message.resolved', entity_type: 'inbound_message', entity_id: m.id, before: JSON.stringify({ status: m.status, errorCode: m.error_code }), reason: note || null, source_message_id: m.id });
      });
      if (!wantsHtml(req)) return reply.send({ messageId: m.id, resolved: true });
      return reply.redirect(`/console/messages/${m.id}`, 303);
    });

    scope.get<{ Params: { id: string } }>('/console/messages/:id/edit', async (req, reply) => {
      const u = req.consoleUser!;
      if (!canAct(u)) throw new LotBridgeError('LB_ERR_AUTH_FORBIDDEN', `role "${u.role}" may not edit messages; it needs one of: operator, admin`);
      const m = await getInboundMessage(ctx.db, req.params.id);
      if (!m) throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
      if (!m.payload) throw new LotBridgeError('LB_ERR_PIPELINE_NOT_REPROCESSABLE', `message ${m.id} has no stored payload (it was over the size limit)`);
      const p = payloadText(ctx, m, true)!;
      if (p.error) throw new LotBridgeError('LB_ERR_PHI_DECRYPT', p.error);
      if (m.format === 'hl7v2') await auditReveal(ctx, u, m, 'edit');
      const text = m.format === 'hl7v2' ? p.text.replace(/\r\n|\r/g, '\n') : p.text;
      const lines = splitLines(p.text, m.format);
      const body = html`<h1>Edit &amp; reprocess <code>${m.id}</code> ${statusBadge(m.status)}</h1>
        <p>The edited text is stored as a <b>new message</b> linked to this one, and processed; this message stays as it is.${m.format === 'hl7v2' ? ' Segment ends are kept as carriage returns.' : ''}</p>
        ${m.error_code ? html`<section class="error"><p><code>${m.error_code}</code> ${m.error_message}</p></section>` : ''}
        ${renderRaw(lines, m.format, p.text, m.error_location as ErrorLocation | null)}
        <form method="post" action="/console/messages/${m.id}/edit" class="edit">
          <input type="hidden" name="_csrf" value="${u.csrf}">
          <textarea name="payload" rows="${Math.min(40, Math.max(8, lines.length + 2))}" spellcheck="false">${text}</textarea>
          <label>Reason<input name="reason" maxlength="500" placeholder="what was wrong (kept in the audit log)"></label>
          <div class="buttons"><button>Store edited copy and reprocess</button> <a href="/console/messages/${m.id}">Cancel</a></div>
        </form>`;
      return page(reply, `Edit ${m.id}`, u, body, { active: 'messages' });
    });

    scope.post<{ Params: { id: string }; Body: { payload?: string; reason?: string } }>('/console/messages/:id/edit', async (req, reply) => {
      const u = requireActor(req);
      const m = await getInboundMessage(ctx.db, req.params.id);
      if (!m) throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
      let text = typeof req.body?.payload === 'string' ? req.body.payload : '';
      if (m.format === 'hl7v2') {
        text = text.replace(/\r\n|\n|\r/g, '\r');
        if (!text.endsWith('\r')) text += '\r';
      } else {
        const orig = plainPayload(m, ctx.phi)?.toString('utf8') ?? '';
        text = text.replace(/\r\n/g, '\n');
        if (orig.includes('\r\n')) text = text.replace(/\n/g, '\r\n');
      }
      const reason = typeof req.body?.reason === 'string' ? req.body.reason.slice(0, 500) : '';
      const receipt = await ctx.ingest.receive(m.connector_id, {
        format: m.format as 'json', payload: Buffer.from(text, 'utf8'), encoding: 'UTF-8', contentType: m.content_type ?? undefined,
        receivedAt: new Date(), transport: 'console', envelope: { editOf: m.id, editedBy: u.username },
      });
      await ctx.db('inbound_messages').where({ id: receipt.messageId }).update({ edit_of: m.id });
      await ctx.db('audit_log').insert({
        chain: 'admin', actor: `console:${u.username}`, action: 'message.edit_reprocess', entity_type: 'inbound_message', entity_id: m.id,
        after: JSON.stringify({ newMessageId: receipt.messageId, receipt: receipt.status }), reason: reason || null, source_message_id: m.id,
      });
      if (!wantsHtml(req)) return reply.status(202).send({ messageId: receipt.messageId, editOf: m.id, receipt });
      return reply.redirect(`/console/messages/${receipt.messageId}`, 303);
    });

    scope.post<{ Body: Record<string, string> }>('/console/reprocess-search', async (req, reply) => {
      const u = requireActor(req);
      if (!ctx.consoleJobs) throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'this process runs no console jobs');
      const s = parseSearch(req.body ?? {});
      if (Object.keys(s).length === 0) throw new LotBridgeError('LB_ERR_CONSOLE_SEARCH_INVALID', 'a bulk reprocess needs at least one search field (it would reprocess every stored message)');
      const job = await ctx.consoleJobs.createReprocess(s, `console:${u.username}`);
      if (!wantsHtml(req)) return reply.status(202).send(jobView(job));
      return reply.redirect(`/console/jobs/${job.id}`, 303);
    });

    scope.get('/console/jobs', async (req, reply) => {
      const jobs = ctx.consoleJobs ? await ctx.consoleJobs.list() : [];
      if (!wantsHtml(req)) return reply.send({ items: jobs.map(jobView) });
      return page(reply, 'Jobs', req.consoleUser!, html`<h1>Jobs</h1>${jobs.length ? html`<table class="grid"><tr><th>created</th><th>by</th><th>kind</th><th>status</th><th>progress</th><th>search</th></tr>${jobs.map((j) => html`<tr><td><a href="/console/jobs/${j.id}">${fmtTime(j.created_at)}</a></td><td>${j.created_by}</td><td>${j.kind}</td><td>${statusBadge(j.status)}</td><td>${j.done + j.skipped} / ${j.total ?? '…'}</td><td><a href="/console?${searchParams(j.query)}"><code class="small">${searchParams(j.query)}</code></a></td></tr>`)}</table>` : html`<p class="muted">No jobs yet.</p>`}`, { active: 'jobs' });
    });

    scope.get<{ Params: { id: string } }>('/console/jobs/:id', async (req, reply) => {
      const j = await ctx.consoleJobs?.get(req.params.id);
      if (!j) throw new LotBridgeError('LB_ERR_CONSOLE_JOB_NOT_FOUND', `no console job ${req.params.id}`);
      if (!wantsHtml(req)) return reply.send(jobView(j));
      const u = req.consoleUser!;
      const pct = j.total ? Math.round((100 * (j.done + j.skipped)) / j.total) : j.status === 'done' ? 100 : 0;
      return page(reply, 'Job', u, html`<h1>Job <code>${j.id}</code></h1>
        <div id="job" data-job="${j.id}" data-status="${j.status}">
          <p>Reprocess messages matching <a href="/console?${searchParams(j.query)}"><code>${searchParams(j.query)}</code></a>, started by ${j.created_by} at ${fmtTime(j.created_at)}.</p>
          <p>Status: <span id="job-status">${statusBadge(j.status)}</span> ${j.cancel_requested && j.status === 'running' ? '(cancelling)' : ''}</p>
          <progress id="job-progress" max="100" value="${pct}"></progress> <span id="job-count">${j.done} reprocessed, ${j.skipped} skipped of ${j.total ?? '…'}</span>
          ${j.error ? html`<p class="error">Last error: ${j.error}</p>` : ''}
          ${canAct(u) && (j.status === 'queued' || j.status === 'running') ? html`<form method="post" action="/console/jobs/${j.id}/cancel"><input type="hidden" name="_csrf" value="${u.csrf}"><button class="warn">Cancel</button></form>` : ''}
        </div>`, { active: 'jobs', scripts: ['/console/static/console.js'] });
    });

    scope.post<{ Params: { id: string } }>('/console/jobs/:id/cancel', async (req, reply) => {
      const u = requireActor(req);
      if (!ctx.consoleJobs) throw new LotBridgeError('LB_ERR_CONSOLE_JOB_NOT_FOUND', `no console job ${req.params.id}`);
      const j = await ctx.consoleJobs.cancel(req.params.id, `console:${u.username}`);
      if (!wantsHtml(req)) return reply.send(jobView(j));
      return reply.redirect(`/console/jobs/${j.id}`, 303);
    });

    scope.get<{ Querystring: { status?: string; resolved?: string } }>('/console/dead-letters', async (req, reply) => {
      const status = req.query.status === 'rejected' ? 'rejected' : 'failed';
      const includeResolved = req.query.resolved === 'all';
      const rows = (await ctx.db('inbound_messages').where({ status }).modify((b) => { if (!includeResolved) b.whereNull('resolved_at'); })
        .groupBy('error_code').select('error_code').count('* as count').min('received_at as first').max('received_at as last').orderBy('count', 'desc')) as Array<{ error_code: string | null; count: string; first: Date; last: Date }>;
      if (!wantsHtml(req)) return reply.send({ status, groups: rows.map((r) => ({ code: r.error_code, count: Number(r.count), first: r.first, last: r.last })) });
      const body = html`<h1>Dead letters</h1>
        <p><a href="/console/dead-letters" class="${status === 'failed' ? 'on' : ''}">failed</a> · <a href="/console/dead-letters?status=rejected" class="${status === 'rejected' ? 'on' : ''}">rejected</a> · ${includeResolved ? html`<a href="/console/dead-letters?status=${status}">hide resolved</a>` : html`<a href="/console/dead-letters?status=${status}&amp;resolved=all">include resolved</a>`}</p>
        ${rows.length ? html`<table class="grid"><tr><th>error code</th><th>meaning</th><th>messages</th><th>first</th><th>last</th></tr>${rows.map((r) => html`<tr><td><a href="/console?status=${status}&amp;error=${encodeURIComponent(r.error_code ?? '')}${includeResolved ? '' : '&resolved=open'}"><code>${r.error_code ?? '(none)'}</code></a></td><td>${r.error_code && r.error_code in errorCatalog ? errorCatalog[r.error_code as keyof typeof errorCatalog].meaning : ''}</td><td>${Number(r.count)}</td><td>${fmtTime(r.first)}</td><td>${fmtTime(r.last)}</td></tr>`)}</table>` : html`<p>No ${status} messages${includeResolved ? '' : ' left open'}.</p>`}`;
      return page(reply, 'Dead letters', req.consoleUser!, body, { active: 'dead' });
    });

    registerDashboard(scope, ctx);
    if (ctx.boardQueues) {
      await registerBullBoard(scope, ctx.boardQueues);
    }
  });
}

/** Only local paths are followed after login. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?!\/)[^\s\\]*$/.test(next) && (next.startsWith('/console') || next.startsWith('/admin/queues') || next.startsWith('/dashboard')) ? next : '/console';
}

function loginForm(next?: string, error?: string, username = ''): SafeHtml {
  return html`<section class="login"><h1>Log in</h1>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
    <form method="post" action="/console/login">
      <input type="hidden" name="next" value="${safeNext(next)}">
      <label>User name<input name="username" autocomplete="username" value="${username}" required autofocus></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" required></label>
      <button>Log in</button>
    </form></section>`;
}

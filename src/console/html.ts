/** A piece of HTML that is already safe to embed (escaped or built from safe parts). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escapes text for an HTML element body or a double-quoted attribute. */
export function esc(v: unknown): string {
  if (v === null || v === undefined) {
    return '';
  }
  return String(v).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function part(v: unknown): string {
  if (v instanceof SafeHtml) {
    return v.value;
  }
  if (Array.isArray(v)) {
    return v.map(part).join('');
  }
  if (v === false || v === null || v === undefined) {
    return '';
  }
  return esc(v);
}

/** Tagged template: interpolated values are escaped unless they are SafeHtml (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    out += part(values[i]) + strings[i + 1];
  }
  return new SafeHtml(out);
}

/** Marks trusted markup as safe (only for strings built here, never for input). */
export function raw(s: string): SafeHtml {
  return new SafeHtml(s);
}

/** Who is looking at a page (for the header and what the page offers). */
export interface PageUser {
  username: string;
  role: string;
  csrf: string;
}

/** The page frame: head with the console's stylesheet, the nav bar, the body. */
export function layout(title: string, user: PageUser | null, body: SafeHtml, opts: { scripts?: string[]; active?: string } = {}): string {
  const nav = user
    ? html`<nav class="top">
        <a class="brand" href="/console">LotBridge</a>
        <a href="/console" class="${opts.active === 'messages' ? 'on' : ''}">Messages</a>
        <a href="/console/dead-letters" class="${opts.active === 'dead' ? 'on' : ''}">Dead letters</a>
        <a href="/console/jobs" class="${opts.active === 'jobs' ? 'on' : ''}">Jobs</a>
        <a href="/dashboard" class="${opts.active === 'dashboard' ? 'on' : ''}">Dashboard</a>
        <a href="/admin/queues">Queues</a>
        <a href="/api/docs">API</a>
        <span class="who">${user.username} <span class="role">${user.role}</span></span>
        <form method="post" action="/console/logout" class="inline"><input type="hidden" name="_csrf" value="${user.csrf}"><button class="link">Log out</button></form>
      </nav>`
    : html`<nav class="top"><span class="brand">LotBridge</span></nav>`;
  const scripts = (opts.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · LotBridge</title>
<link rel="stylesheet" href="/console/static/console.css">
${user ? `<meta name="csrf-token" content="${esc(user.csrf)}">` : ''}
${part(scripts)}
</head><body>${nav.value}<main>${body.value}</main></body></html>`;
}

// A tiny HTTP client with a cookie jar and the CSRF header, like a browser session of an admin.
export interface Res<T = any> { status: number; body: T; headers: Headers }

export class Client {
  cookie = '';
  csrf = '';
  constructor(public baseUrl: string) {}

  async req<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && method !== 'GET') h['x-csrf-token'] ??= this.csrf;
    let payload: string | undefined;
    if (body !== undefined) { payload = typeof body === 'string' ? body : JSON.stringify(body); h['content-type'] ??= 'application/json'; }
    const r = await fetch(this.baseUrl + path, { method, headers: h, body: payload, redirect: 'manual' });
    const set = r.headers.getSetCookie().find((c) => c.startsWith('creditdesk.sid='));
    if (set) this.cookie = set.split(';')[0]!;
    const text = await r.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: r.status, body: parsed as T, headers: r.headers };
  }

  async login(email: string, password: string): Promise<Res> {
    const r = await this.req('POST', '/api/auth/login', { email, password });
    if (r.status === 200) this.csrf = r.body.csrfToken;
    return r;
  }
  get = <T = any>(p: string) => this.req<T>('GET', p);
  post = <T = any>(p: string, b?: unknown) => this.req<T>('POST', p, b);
  put = <T = any>(p: string, b?: unknown) => this.req<T>('PUT', p, b);
}

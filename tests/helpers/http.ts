// A tiny HTTP client with a cookie jar and the CSRF header, like a browser session of an admin,
// with the calls tests make most: login, create an application, upload a document. Every JSON
// answer is checked against the served OpenAPI document.
import type { Role } from '../../lib/domain/users/types.js';
import { checkResponse } from './openapi.js';
import { sampleApplication } from './samples.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are whatever JSON the API sent; tests assert on their fields
export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** What POST /api/applications answers (the API view; dates are JSON strings). */
export interface CreatedApplication {
  id: string;
  version: number;
  status: string;
  [field: string]: unknown;
}

export interface UploadOptions {
  filename?: string;
  /** The part's declared content type (default image/png). */
  type?: string;
  /** The form field (default `file`). */
  field?: string;
  /** false: send no CSRF token. */
  csrf?: boolean;
}

export class Client {
  cookie = '';
  csrf = '';
  /** Who is logged in (set by a successful login). */
  email: string | undefined;
  role: Role | undefined;

  constructor(public baseUrl: string) {}

  /** One request with the session cookie (and the CSRF token unless GET or given); keeps a new session cookie. */
  private async send<T>(
    method: string,
    path: string,
    body: string | FormData | undefined,
    headers: Record<string, string>,
    csrf = true,
  ): Promise<Res<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (csrf && this.csrf && method !== 'GET') h['x-csrf-token'] ??= this.csrf;
    const r = await fetch(this.baseUrl + path, { method, headers: h, body, redirect: 'manual' });
    const set = r.headers.getSetCookie().find((c) => c.startsWith('creditdesk.sid='));
    if (set) this.cookie = set.split(';')[0]!;
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    // Every answer a test sees must be the documented one (tests/helpers/openapi.ts).
    await checkResponse(this.baseUrl, method, path, r.status, r.headers.get('content-type'), parsed);
    return { status: r.status, body: parsed as T, headers: r.headers };
  }

  // biome-ignore lint/suspicious/noExplicitAny: see Res
  req<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
    const h = { ...headers };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    return this.send<T>(method, path, payload, h);
  }

  // biome-ignore lint/suspicious/noExplicitAny: see Res
  get = <T = any>(p: string) => this.req<T>('GET', p);
  // biome-ignore lint/suspicious/noExplicitAny: see Res
  post = <T = any>(p: string, b?: unknown) => this.req<T>('POST', p, b);
  // biome-ignore lint/suspicious/noExplicitAny: see Res
  put = <T = any>(p: string, b?: unknown) => this.req<T>('PUT', p, b);

  /** POST /api/auth/login; on success keeps the session, the CSRF token, the email and the role. */
  async login(email: string, password: string): Promise<Res> {
    const r = await this.req('POST', '/api/auth/login', { email, password });
    if (r.status === 200) {
      this.csrf = r.body.csrfToken;
      this.email = r.body.user.email;
      this.role = r.body.user.role;
    }
    return r;
  }

  /** Creates an application (sampleApplication with `over`); throws unless the answer is 201. */
  async create(over: Record<string, unknown> = {}): Promise<CreatedApplication> {
    const r = await this.post<CreatedApplication>('/api/applications', sampleApplication(over));
    if (r.status !== 201) throw new Error(`creating an application: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Multipart upload of one document to an application, like a browser form. */
  upload(applicationId: string, data: Buffer, opts: UploadOptions = {}): Promise<Res> {
    const form = new FormData();
    form.append(
      opts.field ?? 'file',
      new Blob([new Uint8Array(data)], { type: opts.type ?? 'image/png' }),
      opts.filename ?? 'document.png',
    );
    return this.send('POST', `/api/applications/${applicationId}/documents`, form, {}, opts.csrf !== false);
  }
}

// Server-Sent Events in tests: fetch() plus a line parser that follows the HTML standard's
// event-stream rules (fields, comments, `id:` setting the last event id even without data,
// dispatch on a blank line). Received events accumulate on the stream; tests wait on them with
// waitFor (the one way to wait), never with timers.
import type { Res } from './http.js';

export interface SseEvent {
  /** The last event id after this event (what a browser would send as Last-Event-ID). */
  id: string;
  event: string;
  data: string;
}

export class SseStream {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  /** The last event id the stream set (an `id:` line, with or without an event). */
  lastEventId = '';
  /** Set when the server ended the response (or the connection failed). */
  ended = false;
  error: unknown;
  private buf = '';
  private data: string[] = [];
  private type = '';

  constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    void this.pump();
  }

  /** The events' data parsed as JSON (status events). */
  // biome-ignore lint/suspicious/noExplicitAny: event payloads are asserted field by field, as Res bodies are
  json(type = 'status'): any[] {
    return this.events.filter((e) => e.event === type).map((e) => JSON.parse(e.data));
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        this.buf += decoder.decode(chunk, { stream: true });
        let nl = this.buf.search(/\r\n|\r|\n/);
        while (nl >= 0) {
          const line = this.buf.slice(0, nl);
          this.buf = this.buf.slice(nl + (this.buf.startsWith('\r\n', nl) ? 2 : 1));
          this.line(line);
          nl = this.buf.search(/\r\n|\r|\n/);
        }
      }
    } catch (e) {
      if (!this.abort.signal.aborted) this.error = e;
    } finally {
      this.ended = true;
    }
  }

  private line(line: string): void {
    if (line === '') {
      // dispatch: an id-only block only sets the last event id
      if (this.data.length > 0) this.events.push({ id: this.lastEventId, event: this.type || 'message', data: this.data.join('\n') });
      this.data = [];
      this.type = '';
      return;
    }
    if (line.startsWith(':')) return void this.comments.push(line.slice(1).trim());
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/**
 * GET `url` as an event stream with `headers`. A 200 text/event-stream answer is a live SseStream
 * (close() it when done); anything else is read whole and returned as a Res (problem details).
 */
export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; stream?: SseStream; res?: Res }> {
  const abort = new AbortController();
  const r = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  if (r.status === 200 && (r.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return { status: r.status, headers: r.headers, stream: new SseStream(r, abort) };
  }
  const text = await r.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, res: { status: r.status, body, headers: r.headers } };
}

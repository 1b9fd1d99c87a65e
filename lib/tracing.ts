// W3C trace context with OpenTelemetry, one module for the whole process. initTracing() (called
// first by server/main.ts and workers/main.ts) installs the AsyncLocalStorage context manager, the
// W3C `traceparent` propagator and a tracer provider whose spans go to the configured exporters:
// OTLP over HTTP (OTEL_EXPORTER_OTLP_ENDPOINT) and/or a JSON-lines file (OTEL_TRACES_FILE, for
// tests), none by default. Spans are made by hand: request-context.ts for HTTP requests,
// lib/queue/run-event.ts for events, outboundCalls() for fetch, traceCommands() for MongoDB
// commands. The auto-instrumentations patch nothing under tsx's ESM loader (measured: no span from
// instrumentation-http/express, with or without the import-in-the-middle loader hook).
// Without initTracing (in-process tests) every helper here is a cheap no-op.
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode, hrTimeToMilliseconds, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, MongoClient } from 'mongodb';

export interface TracingOptions {
  /** service.name of every span (creditdesk-api, creditdesk-worker). */
  service: string;
  instance: string;
  /** OTLP/HTTP collector base URL (spans go to `<url>/v1/traces`); none by default. */
  otlpEndpoint?: string | undefined;
  /** Appends one JSON line per ended span to this file (tests, local debugging). */
  tracesFile?: string | undefined;
}

const TRACER = 'creditdesk';
/** The request id of the work in progress (an HTTP request, or the request that led to an event). */
const REQUEST_ID = createContextKey('creditdesk.requestId');

let provider: TracerProvider | undefined;
/** Spans go somewhere (an exporter is configured): only then is it worth making MongoDB command spans. */
let exporting = false;

/** One JSON line per span, written synchronously so a line is never half-written or lost at exit. */
class FileSpanExporter implements SpanExporter {
  constructor(private readonly path: string) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      appendFileSync(this.path, spans.map((s) => `${JSON.stringify(spanLine(s))}\n`).join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (e) {
      done({ code: ExportResultCode.FAILED, error: e as Error });
    }
  }
  async shutdown(): Promise<void> {}
}

/** The file exporter's line: ids, parent, name, kind, service, timing, attributes, status. */
function spanLine(s: ReadableSpan) {
  const { traceId, spanId } = s.spanContext();
  return {
    traceId,
    spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    name: s.name,
    kind: SpanKind[s.kind],
    service: s.resource.attributes['service.name'],
    instance: s.resource.attributes['service.instance.id'],
    start: new Date(hrTimeToMilliseconds(s.startTime)).toISOString(),
    durationMs: hrTimeToMilliseconds(s.duration),
    attributes: s.attributes,
    status: s.status,
  };
}

/** Installs context manager, propagator and tracer provider once per process (later calls are ignored). */
export function initTracing(o: TracingOptions): void {
  if (provider) return;
  const spanProcessors: SpanProcessor[] = [];
  if (o.otlpEndpoint) {
    const url = `${o.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
  }
  if (o.tracesFile) spanProcessors.push(new SimpleSpanProcessor({ exporter: new FileSpanExporter(o.tracesFile) }));
  exporting = spanProcessors.length > 0;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': o.service, 'service.instance.id': o.instance }),
    spanProcessors,
  });
  trace.setGlobalTracerProvider(provider);
  outboundCalls();
}

/** What the built-in fetch (undici) publishes about a request on its diagnostics channels. */
interface UndiciRequest {
  method: string;
  origin: string;
  path: string;
  addHeader(name: string, value: string): unknown;
}

/**
 * Every outbound HTTP call made with the built-in fetch (payment gateway, credit bureau, webhooks)
 * gets a CLIENT span, child of the active span, and carries that span's `traceparent` header: the
 * header is added where undici creates the request (its `undici:request:create` diagnostics
 * channel, as @opentelemetry/instrumentation-undici does), so no call site has to remember it.
 */
function outboundCalls(): void {
  const spans = new WeakMap<object, Span>();
  subscribe('undici:request:create', (message) => {
    const { request } = message as { request: UndiciRequest };
    const parent = context.active();
    if (!trace.getSpanContext(parent)) return; // outside any trace: nothing to continue
    const span = trace
      .getTracer(TRACER)
      .startSpan(
        `${request.method} ${request.path.split('?')[0]}`,
        { kind: SpanKind.CLIENT, attributes: { 'http.request.method': request.method, 'server.address': request.origin } },
        parent,
      );
    const traceparent = traceparentOf(trace.setSpan(parent, span));
    if (traceparent) request.addHeader('traceparent', traceparent);
    spans.set(request, span);
  });
  subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    span.setAttribute('http.response.status_code', response.statusCode);
    if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  subscribe('undici:request:error', (message) => {
    const { request, error } = message as { request: object; error: Error };
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    span.end();
  });
}

/** Exports what is still buffered (OTLP batches); the process calls it last, after its drain. */
export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown().catch(() => {});
}

/** The `traceparent` of `ctx` (default: the active context), if it carries a valid span. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** For log lines: the active trace and span ids, and the request id of the work in progress. */
export function logContext(): { traceId?: string; spanId?: string; requestId?: string } {
  const active = context.active();
  const span = trace.getSpanContext(active);
  const requestId = active.getValue(REQUEST_ID);
  return {
    ...(span && trace.isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : {}),
    ...(typeof requestId === 'string' ? { requestId } : {}),
  };
}

// The trace of each HTTP request in flight, by request id. Intake commits several requests in one
// transaction (group commit): the request that flushes the batch is the active context then, so an
// event finds ITS request's trace through the request id it carries (traceparentFor).
const requestTraces = new Map<string, string>();

/** The trace to store on an event published for `requestId`: that request's, else the active one. */
export function traceparentFor(requestId: string | undefined): string | undefined {
  return (requestId !== undefined ? requestTraces.get(requestId) : undefined) ?? traceparentOf();
}

/**
 * Runs `fn` in a new span of kind `kind`, child of `parent` (a context, or a stored traceparent;
 * a new trace without one), with `requestId` in the context for log lines. The span ends when
 * `end()` is called by the caller (see startRequestSpan / inEventSpan).
 */
function startSpan(name: string, kind: SpanKind, parent: Context, attributes: Attributes, requestId?: string) {
  const span = trace.getTracer(TRACER).startSpan(name, { kind, attributes }, parent);
  let ctx = trace.setSpan(parent, span);
  if (requestId !== undefined) ctx = ctx.setValue(REQUEST_ID, requestId);
  return { span, ctx };
}

/** A request's SERVER span: continues the caller's `traceparent` header (nginx passes it) or starts a trace. */
export function startRequestSpan(
  headers: Record<string, string | string[] | undefined>,
  requestId: string,
  attributes: Attributes,
): { span: Span; ctx: Context; end: (name: string, status: number) => void } {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const { span, ctx } = startSpan('HTTP request', SpanKind.SERVER, parent, { ...attributes, 'http.request_id': requestId }, requestId);
  const traceparent = traceparentOf(ctx);
  if (traceparent) requestTraces.set(requestId, traceparent);
  const end = (name: string, status: number) => {
    if (requestTraces.get(requestId) === traceparent) requestTraces.delete(requestId);
    span.updateName(name);
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  return { span, ctx, end };
}

/** What inEventSpan needs of a claimed event (EventDoc fits; `trace` is the stored traceparent). */
export interface TracedEvent {
  _id: { toString(): string };
  type: string;
  attempts: number;
  requestId?: string | undefined;
  trace?: unknown;
}

/**
 * MongoDB command spans: call it on the process's client BEFORE connect() (lib/db/mongo.ts). When
 * spans are exported, it turns on the driver's command monitoring and makes a CLIENT span per
 * command issued inside a trace (`mongodb find applications`), child of the active span; commands
 * outside any trace (change streams, background polls) make none. Without an exporter it does
 * nothing, so command monitoring costs nothing. The command's contents are never recorded.
 */
export function traceCommands(client: MongoClient): void {
  if (!exporting) return;
  client.options.monitorCommands = true; // what the (untyped) monitorCommands setter does; read by each new connection
  const spans = new Map<string, Span>();
  const key = (e: { connectionId?: string | number; requestId: number }) => `${e.connectionId}:${e.requestId}`;
  client.on('commandStarted', (e: CommandStartedEvent) => {
    const parent = context.active();
    if (!trace.getSpanContext(parent)) return;
    const collection: unknown = e.command[e.commandName];
    const attributes: Attributes = { 'db.system.name': 'mongodb', 'db.namespace': e.databaseName, 'db.operation.name': e.commandName };
    if (typeof collection === 'string') attributes['db.collection.name'] = collection;
    const name = `mongodb ${e.commandName}${typeof collection === 'string' ? ` ${collection}` : ''}`;
    spans.set(key(e), trace.getTracer(TRACER).startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent));
  });
  const end = (e: CommandSucceededEvent | CommandFailedEvent, failure?: Error) => {
    const span = spans.get(key(e));
    if (!span) return;
    spans.delete(key(e));
    if (failure) span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    span.end();
  };
  client.on('commandSucceeded', (e: CommandSucceededEvent) => end(e));
  client.on('commandFailed', (e: CommandFailedEvent) => end(e, e.failure));
}

/** Where inEventSpan reports each run (a pino logger fits). */
export interface RunLog {
  debug(fields: object, message: string): void;
}

/**
 * Runs one claimed event in a CONSUMER span whose parent is the trace stored on the event at
 * publish time (a new trace for events published outside any trace). The span ends when `run`
 * settles, or, for an outcome still being written (`{completing}`), when that write settles; then
 * a debug line "event run" (with the trace id, like every line in the span) reports the outcome.
 */
export async function inEventSpan<T>(ev: TracedEvent, run: () => Promise<T>, log?: RunLog): Promise<T> {
  const parent = typeof ev.trace === 'string' ? propagation.extract(ROOT_CONTEXT, { traceparent: ev.trace }) : ROOT_CONTEXT;
  const attributes = {
    'messaging.system': 'creditdesk',
    'messaging.operation.type': 'process',
    'messaging.message.id': ev._id.toString(),
    'creditdesk.attempt': ev.attempts,
  };
  const { span, ctx } = startSpan(`process ${ev.type}`, SpanKind.CONSUMER, parent, attributes, ev.requestId);
  const finish = (outcome: string, error?: unknown) => {
    span.setAttribute('creditdesk.outcome', outcome);
    if (error !== undefined) span.recordException(error as Error);
    if (outcome !== 'completed') span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    context.with(ctx, () => log?.debug({ eventId: ev._id.toString(), type: ev.type, outcome }, 'event run'));
  };
  try {
    const result = await context.with(ctx, run);
    const completing = typeof result === 'object' && result !== null && 'completing' in result ? result.completing : undefined;
    if (completing instanceof Promise)
      completing.then(
        (o: unknown) => finish(String(o)),
        (e: unknown) => finish('error', e),
      );
    else finish(String(result));
    return result;
  } catch (e) {
    finish('error', e);
    throw e;
  }
}

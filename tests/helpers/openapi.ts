// Every JSON answer a test's Client sees is checked against the OpenAPI document the server
// serves (GET /api/openapi.json): the route and status must be documented and the body must
// validate against the documented schema. A mismatch throws where the request was made, so the
// test that saw it fails naming the route, the status and what is wrong.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

type Json = Record<string, unknown>;
interface Route {
  template: string;
  pattern: RegExp;
  params: number;
  item: Record<string, Json>;
}
interface Spec {
  routes: Route[];
  problem: Json;
}

const documents = new Map<string, Promise<Spec | undefined>>();
const validators = new WeakMap<object, ValidateFunction>();
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

/** Turns the document's paths into matchers, literal paths before templated ones. */
function specOf(doc: Json): Spec {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  const routes = Object.entries(paths).map(([template, item]) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    params: (template.match(/\{/g) ?? []).length,
    item,
  }));
  routes.sort((a, b) => a.params - b.params);
  const problem = ((doc.components as Json | undefined)?.schemas as Json | undefined)?.Problem as Json;
  return { routes, problem };
}

function loadSpec(baseUrl: string): Promise<Spec | undefined> {
  let p = documents.get(baseUrl);
  if (!p) {
    p = fetch(`${baseUrl}/api/openapi.json`)
      .then(async (r) => (r.ok ? specOf((await r.json()) as Json) : undefined))
      .catch(() => undefined);
    documents.set(baseUrl, p);
    // A server that could not answer now may later: do not keep the failure.
    void p.then((s) => {
      if (!s) documents.delete(baseUrl);
    });
  }
  return p;
}

const resolveProblem = (schema: Json, problem: Json): Json => (schema.$ref === '#/components/schemas/Problem' ? problem : schema);

/**
 * Checks one answer. Only the API's JSON answers are checked (nginx's own error pages are
 * `about:blank` problems); an unknown path answered 404 is the router's "no route", which needs
 * no documentation.
 */
export async function checkResponse(
  baseUrl: string,
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  body: unknown,
): Promise<void> {
  const type = (contentType ?? '').split(';')[0]!.trim();
  if (type !== 'application/json' && type !== 'application/problem+json') return;
  // nginx answers its own errors (413, 429, 502, 503, 504 at the edge) as `about:blank` problems
  // (nginx.conf); those are the edge's, not the route's. The API's problems have their own type.
  if (type === 'application/problem+json' && (body as { type?: unknown } | undefined)?.type === 'about:blank') return;
  const spec = await loadSpec(baseUrl);
  if (!spec) return;
  const path = new URL(url, 'http://x').pathname;
  const route = spec.routes.find((r) => r.pattern.test(path));
  const where = `${method} ${path} → ${status}`;
  if (!route) {
    if (status === 404 || status === 405) return;
    throw new Error(`OpenAPI: ${where}: the path is not in the document`);
  }
  const op = route.item[method.toLowerCase()];
  if (!op) {
    if (status === 404 || status === 405) return;
    throw new Error(`OpenAPI: ${where}: ${method} is not documented for ${route.template}`);
  }
  const responses = (op.responses ?? {}) as Record<string, Json>;
  const response = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
  if (!response) throw new Error(`OpenAPI: ${where}: status ${status} is not documented for ${method} ${route.template}`);
  const content = (response.content ?? {}) as Record<string, { schema?: Json }>;
  const media = content[type] ?? content['application/json'] ?? content['application/problem+json'];
  if (!media?.schema) return;
  const schema = resolveProblem(media.schema, spec.problem);
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  if (!validate(body)) {
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    throw new Error(`OpenAPI: ${where}: the body does not match the documented schema of ${route.template}:\n  ${errors.join('\n  ')}`);
  }
}

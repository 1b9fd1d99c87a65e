// The API's own description: GET /api/openapi.json (generated from the mounted routes, see
// server/openapi/document.ts) and GET /api/docs (Swagger UI from node_modules/swagger-ui-dist
// plus our page; no CDN, no third-party request). Public: it describes routes, not data.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import express, { type Express, Router } from 'express';
import { API_VERSION, openApiDocument } from '../openapi/document.js';
import { routes } from '../openapi/operation.js';

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export function docsRoutes(app: () => Express): Router {
  const r = Router();
  const t = routes(r);
  let cached: object | undefined;
  t.get(
    '/openapi.json',
    {
      summary: 'The OpenAPI 3.1 document of this API',
      tags: ['docs'],
      security: 'public',
      responses: { 200: { description: 'the document', contentType: 'application/json' } },
    },
    (_input, _req, res) => {
      cached ??= openApiDocument(app(), { version: API_VERSION }).document;
      res.json(cached);
    },
  );
  t.get(
    '/docs',
    {
      summary: 'The API reference (Swagger UI)',
      tags: ['docs'],
      security: 'public',
      responses: { 200: { description: 'an HTML page', contentType: 'text/html' } },
    },
    (_input, req, res) => {
      // Relative asset URLs need the trailing slash.
      if (!req.originalUrl.split('?')[0]?.endsWith('/')) return res.redirect(301, `${req.baseUrl}/docs/`);
      res.sendFile(resolve(import.meta.dirname, '..', 'public', 'docs', 'index.html'));
    },
  );
  r.use('/docs', express.static(resolve(import.meta.dirname, '..', 'public', 'docs'), { index: false, maxAge: '5m' }));
  r.use('/docs/assets', express.static(swaggerUiDir, { index: false, maxAge: '1h' }));
  return r;
}

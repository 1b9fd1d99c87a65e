// The live ops dashboard: a static page (server/public/ops) and a Server-Sent Events stream of
// snapshots. One snapshot per interval per process is shared by every connected dashboard, so
// a hundred open dashboards cost the database the same as one.
import { resolve } from 'node:path';
import express, { Router, type Response } from 'express';
import { opsSnapshot, type OpsSnapshot } from '../../lib/domain/ops-snapshot.js';
import type { ApiContext } from '../context.js';
import { routes } from '../openapi/operation.js';

const OPS_STREAM_INTERVAL_MS = 2000;

export function opsRoutes(d: ApiContext): { page: Router; stream: Router } {
  const clients = new Set<Response>();
  let timer: NodeJS.Timeout | undefined;
  let last: OpsSnapshot | undefined;

  async function tick(): Promise<void> {
    if (d.lifecycle.draining) {
      // let the listener close; browsers reconnect to another instance
      for (const res of clients) res.end();
      clients.clear();
      clearInterval(timer);
      timer = undefined;
      return;
    }
    try {
      last = await opsSnapshot(d);
      const frame = `event: snapshot\ndata: ${JSON.stringify(last)}\n\n`;
      for (const res of clients) res.write(frame);
    } catch (err) {
      d.log.warn({ err }, 'ops snapshot failed');
      for (const res of clients) res.write(': snapshot failed\n\n');
    }
  }

  const stream = Router();
  routes(stream).get(
    '/stream',
    {
      summary: 'The ops dashboard’s Server-Sent Events: a queue/application snapshot every 2 s',
      tags: ['operations'],
      security: 'session',
      role: 'admin',
      responses: {
        200: { description: 'event: snapshot frames', contentType: 'text/event-stream' },
        503: { description: 'the instance is draining' },
      },
    },
    (_i, req, res) => {
      if (d.lifecycle.draining) return void res.status(503).end();
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write(`retry: 3000\n\n`);
      if (last) res.write(`event: snapshot\ndata: ${JSON.stringify(last)}\n\n`);
      clients.add(res);
      if (!timer) {
        void tick();
        timer = setInterval(() => void tick(), OPS_STREAM_INTERVAL_MS);
      }
      req.on('close', () => {
        clients.delete(res);
        if (clients.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      });
    },
  );

  const page = Router();
  page.use('/ops', express.static(resolve(import.meta.dirname, '..', 'public', 'ops'), { index: 'index.html', maxAge: '5m' }));
  return { page, stream };
}

// A write to a MongoDB connection that the server closed (a killed primary) reaches the API as the
// socket's own error: mongodb 7.8 rethrows a failed socket write without wrapping it in a
// MongoNetworkError (a CI failover run answered 500 with "This socket has been ended by the other
// party", EPIPE). The error here is Node's own, from a real loopback socket written after the
// other side ended it; the API answers it like any lost connection: 503 + Retry-After.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fromMongoError } from '../../server/middleware/error-handler.js';

/** The error Node gives a socket written to after the peer ended the connection. */
async function writeAfterPeerEnded(): Promise<Error> {
  const server = createServer((s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'end'); // the peer's FIN; our side ends too (allowHalfOpen is off)
    const failed = once(socket, 'error');
    socket.write(Buffer.from('a command'));
    const [err] = (await failed) as [Error];
    socket.destroy();
    return err;
  } finally {
    server.close();
  }
}

test('a socket written after the server ended it (EPIPE, unwrapped by the driver) is a 503 with Retry-After', async () => {
  const err = await writeAfterPeerEnded();
  assert.equal((err as NodeJS.ErrnoException).code, 'EPIPE');
  const mapped = fromMongoError(err);
  assert.equal(mapped?.status, 503);
  assert.equal(mapped?.code, 'database_unavailable');
  assert.equal(mapped?.extra.retryAfterSeconds, 1);
  assert.equal(fromMongoError(new Error('wrapped', { cause: err }))?.status, 503, 'also as the cause of another error');
});

test("a client's aborted upload (body-parser: 400, ECONNABORTED) and a plain bug are not a database outage", () => {
  const aborted = Object.assign(new Error('request aborted'), { status: 400, code: 'ECONNABORTED', type: 'request.aborted' });
  assert.equal(fromMongoError(aborted), undefined);
  assert.equal(fromMongoError(new TypeError('x is undefined')), undefined);
});

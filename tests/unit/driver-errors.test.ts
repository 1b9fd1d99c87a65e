// A bulk write that failed because the connection closed (a primary going away) must surface as
// the driver's own error, so withTransaction retries it and the API answers 503, not 500.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MongoBulkWriteError, MongoNetworkError } from 'mongodb';
import { driverErrorOf } from '../../lib/db/transaction.js';

// The result a failed bulk write carries; its content plays no part here.
const emptyResult = () => ({}) as ConstructorParameters<typeof MongoBulkWriteError>[1];

test('a bulk write wrapping a network error gives back the network error', () => {
  const network = new MongoNetworkError('connection 2 to 127.0.0.1:31006 closed');
  const bulk = new MongoBulkWriteError(network, emptyResult());
  assert.equal(driverErrorOf(bulk), network);
});

test('a bulk write that failed on the server (duplicate key) stays as it is', () => {
  const bulk = new MongoBulkWriteError({ message: 'E11000 duplicate key', code: 11000 }, emptyResult());
  assert.equal(driverErrorOf(bulk), bulk);
  const other = new Error('x');
  assert.equal(driverErrorOf(other), other);
});

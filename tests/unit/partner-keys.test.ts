// Partner keys: shape and checksum are checked without any store; hashes differ per secret.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashKey, newPartnerKey, sameHash, wellFormedKey } from '../../lib/domain/partners/keys.js';

test('a new key is well formed; any changed character breaks its checksum', () => {
  const key = newPartnerKey();
  assert.match(key, /^cdk_live_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
  assert.ok(wellFormedKey(key));
  let refused = 0;
  for (let i = 'cdk_live_'.length; i < key.length; i++) {
    if (key[i] === '_') continue;
    const changed = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
    if (!wellFormedKey(changed)) refused++;
  }
  assert.equal(refused, key.length - 'cdk_live_'.length - 1, 'every single-character change is refused');
  for (const bad of ['', 'cdk_live_', `${key}x`, key.replace('cdk_live_', 'cdk_test_'), ` ${key}`]) assert.ok(!wellFormedKey(bad), bad);
});

test('keys differ and hash differently under each secret; hashes compare by value', () => {
  const keys = new Set(Array.from({ length: 1000 }, newPartnerKey));
  assert.equal(keys.size, 1000);
  const key = newPartnerKey();
  const a = hashKey(key, 's'.repeat(32));
  assert.ok(sameHash(a, hashKey(key, 's'.repeat(32))));
  assert.ok(!sameHash(a, hashKey(key, 't'.repeat(32))));
  assert.ok(!sameHash(a, 'zz'));
});

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { CheckpointNotFoundError, UnsafeKeyError } from '../src/errors/index';
import { type LocalStore, S3Store } from '../src/index';
import { openStore, STORE_KINDS, type StoreFixture } from './helpers';

const enc = (s: string) => new TextEncoder().encode(s);

// The same contract for both stores: the checkpoint code above them must not be able to tell them apart.
for (const kind of STORE_KINDS) {
  describe(`${kind} store`, () => {
    let fx: StoreFixture;
    before(async () => {
      // A small page size so that listings below page through several ListObjectsV2 calls.
      fx = await openStore(kind, { pageSize: 3 });
    });
    after(() => fx.close());

    test('put, get, stream, overwrite', async () => {
      await fx.store.put('c/a.txt', enc('hello'));
      assert.equal(new TextDecoder().decode(await fx.store.get('c/a.txt')), 'hello');
      assert.equal(await text(await fx.store.getStream('c/a.txt')), 'hello');
      await fx.store.put('c/a.txt', enc('bye'));
      assert.equal(new TextDecoder().decode(await fx.store.get('c/a.txt')), 'bye');
      const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
      await fx.store.put('c/big.bin', big);
      assert.deepEqual(await fx.store.get('c/big.bin'), big);
    });

    test('missing objects throw CheckpointNotFoundError', async () => {
      await assert.rejects(fx.store.get('c/missing'), CheckpointNotFoundError);
      await assert.rejects(fx.store.getStream('c/missing'), CheckpointNotFoundError);
    });

    test('list pages through every key under a prefix, in key order, with sizes', async () => {
      const keys = Array.from({ length: 11 }, (_, i) => `l/k${String(i).padStart(2, '0')}`);
      await Promise.all(keys.map((k, i) => fx.store.put(k, new Uint8Array(i))));
      await fx.store.put('lx/other', enc('x'));
      const listed = await fx.store.list('l/');
      assert.deepEqual(
        listed.map((o) => o.key),
        keys,
      );
      assert.deepEqual(
        listed.map((o) => o.size),
        keys.map((_, i) => i),
      );
      assert.equal((await fx.store.list('l')).length, 12);
      assert.deepEqual(await fx.store.list('nothing/'), []);
    });

    test('delete removes objects and ignores missing ones', async () => {
      await fx.store.put('d/1', enc('1'));
      await fx.store.put('d/2', enc('2'));
      await fx.store.delete(['d/1', 'd/never']);
      assert.deepEqual(
        (await fx.store.list('d/')).map((o) => o.key),
        ['d/2'],
      );
    });

    test('unsafe keys are refused before any I/O', async () => {
      for (const bad of ['../escape', '/abs', 'a/../../b', 'a//b', 'a\\b']) {
        await assert.rejects(fx.store.put(bad, enc('x')), UnsafeKeyError, bad);
        await assert.rejects(fx.store.get(bad), UnsafeKeyError, bad);
        await assert.rejects(fx.store.delete([bad]), UnsafeKeyError, bad);
      }
      await assert.rejects(fx.store.list('../'), UnsafeKeyError);
    });
  });
}

test('local store: a temp file left by a crash mid-put is invisible', async () => {
  const fx = await openStore('local');
  try {
    await fx.store.put('t/real', enc('x'));
    await writeFile(join((fx.store as LocalStore).root, 't', 'real.tmp-abc123'), 'partial');
    assert.deepEqual(
      (await fx.store.list('t/')).map((o) => o.key),
      ['t/real'],
    );
  } finally {
    await fx.close();
  }
});

test('s3 store: more than 1000 keys (S3 page maximum) and a key prefix', async () => {
  const fx = await openStore('s3');
  const s3 = fx.s3 as NonNullable<StoreFixture['s3']>;
  const prefixed = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
    prefix: 'team/gradq',
  });
  try {
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => prefixed.put(k, new Uint8Array(1))));
    }
    const listed = await prefixed.list('many/');
    assert.equal(listed.length, 1005);
    assert.deepEqual(
      listed.map((o) => o.key),
      keys,
    );
    // The unprefixed view sees the same objects under the prefix; the prefixed view never shows it.
    assert.equal((await fx.store.list('team/gradq/many/')).length, 1005);
  } finally {
    await prefixed.close();
    await fx.close();
  }
});

import assert from "node:assert/strict";
import { AddressBook } from "../../src/swarm/address_book.ts";

const peers = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ host: "10.0.0.1", port: from + i }));

Deno.test("AddressBook.add() keeps the book bounded whatever trackers send", () => {
  const book = new AddressBook(6881, 500);
  for (let round = 0; round < 20; round++) book.add(peers(1000 + round * 100, 100));
  assert.equal(book.size, 500);
});

Deno.test("AddressBook.add() lets a new address replace a failed, idle one, never a banned or connected one", () => {
  const book = new AddressBook(6881, 3);
  book.add(peers(1, 3));
  book.entries.get("10.0.0.1:1")!.failures = 2; // failed, idle: replaceable
  book.entries.get("10.0.0.1:2")!.failures = 2;
  book.entries.get("10.0.0.1:2")!.banned = true; // banned: stays banned
  book.entries.get("10.0.0.1:3")!.failures = 1; // failed but connected again
  book.active.add("10.0.0.1:3");
  book.add(peers(10, 2));
  assert.deepEqual([...book.entries.keys()].sort(), ["10.0.0.1:10", "10.0.0.1:2", "10.0.0.1:3"]);
});

Deno.test("AddressBook.add() skips our own address and duplicates", () => {
  const book = new AddressBook(6881);
  book.add([{ host: "127.0.0.1", port: 6881 }, { host: "127.0.0.1", port: 7000 }, {
    host: "127.0.0.1",
    port: 7000,
  }]);
  assert.deepEqual([...book.entries.keys()], ["127.0.0.1:7000"]);
});

Deno.test("AddressBook.takeDialable() marks addresses active up to the limit, skipping banned and backed-off ones", () => {
  const book = new AddressBook(6881);
  book.add(peers(1, 5));
  book.entries.get("10.0.0.1:1")!.banned = true;
  book.entries.get("10.0.0.1:2")!.retryAt = Date.now() + 60_000;
  const first = book.takeDialable(2).map((e) => e.port);
  assert.deepEqual(first, [3, 4]);
  assert.deepEqual(book.takeDialable(2), [], "full: nothing more");
  assert.deepEqual(book.takeDialable(10).map((e) => e.port), [5]);
});

Deno.test("AddressBook.closed() backs off an address that gave nothing, and forgives one that gave pieces", () => {
  const book = new AddressBook(6881);
  book.add(peers(1, 2));
  book.takeDialable(2);
  book.closed("10.0.0.1:1", "refused", 0);
  book.closed("10.0.0.1:2", "done", 3);
  const [a, b] = [book.entries.get("10.0.0.1:1")!, book.entries.get("10.0.0.1:2")!];
  assert.equal(a.failures, 1);
  assert(a.retryAt >= Date.now() + 3000, "4 s after the first failure");
  assert.equal(b.failures, 0);
  assert.equal(book.active.size, 0);
  assert.deepEqual(book.takeDialable(5), [], "both wait out their back-off");
});

Deno.test("AddressBook.strike() bans at the last strike, once", () => {
  const book = new AddressBook(6881);
  book.add(peers(1, 1));
  assert.equal(book.strike("10.0.0.1:1", 3), false);
  assert.equal(book.strike("10.0.0.1:1", 3), false);
  assert.equal(book.strike("10.0.0.1:1", 3), true);
  assert.equal(book.strike("10.0.0.1:1", 3), false, "already banned");
  assert.equal(book.entries.get("10.0.0.1:1")!.banned, true);
  assert.equal(book.strike("10.9.9.9:1", 3), false, "an address we never heard of");
  assert.equal(book.takeIncoming("10.0.0.1:1", 50), false, "a banned address may not connect");
});

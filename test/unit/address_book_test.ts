import assert from "node:assert/strict";
import { addPeers, type AddressEntry } from "../../actors/torrent.ts";

const peers = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ host: "10.0.0.1", port: from + i }));

Deno.test("addPeers() keeps the book bounded whatever trackers send", () => {
  const book = new Map<string, AddressEntry>();
  for (let round = 0; round < 20; round++) {
    addPeers(book, new Set(), peers(1000 + round * 100, 100), 6881, "tracker", 500);
  }
  assert.equal(book.size, 500);
});

Deno.test("addPeers() lets a new address replace a failed, idle one, never a banned or connected one", () => {
  const book = new Map<string, AddressEntry>();
  addPeers(book, new Set(), peers(1, 3), 6881, "tracker", 3);
  book.get("10.0.0.1:1")!.failures = 2; // failed, idle: replaceable
  book.get("10.0.0.1:2")!.failures = 2;
  book.get("10.0.0.1:2")!.banned = true; // banned: stays banned
  book.get("10.0.0.1:3")!.failures = 1; // failed but connected again
  addPeers(book, new Set(["10.0.0.1:3"]), peers(10, 2), 6881, "tracker", 3);
  assert.deepEqual([...book.keys()].sort(), ["10.0.0.1:10", "10.0.0.1:2", "10.0.0.1:3"]);
});

Deno.test("addPeers() skips our own address and duplicates", () => {
  const book = new Map<string, AddressEntry>();
  addPeers(book, new Set(), [{ host: "127.0.0.1", port: 6881 }, { host: "127.0.0.1", port: 7000 }, {
    host: "127.0.0.1",
    port: 7000,
  }], 6881);
  assert.deepEqual([...book.keys()], ["127.0.0.1:7000"]);
});

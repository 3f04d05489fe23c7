import assert from "node:assert/strict";
import { type ChokeCandidate, chooseUnchoked } from "../../src/swarm/choker.ts";

const peer = (key: string, downloadRate: number, uploadRate = 0, interested = true): ChokeCandidate => ({
  key,
  interested,
  downloadRate,
  uploadRate,
});

const PEERS = [
  peer("a", 100, 1),
  peer("b", 500, 2),
  peer("c", 300, 9),
  peer("d", 50, 7),
  peer("e", 900, 3),
  peer("f", 10, 8),
];

Deno.test("chooseUnchoked() gives the regular slots to the peers that upload to us fastest while downloading", () => {
  const { unchoke, optimistic } = chooseUnchoked(PEERS, { seeding: false, random: () => 0 });
  assert.equal(optimistic, "d"); // the first of the others (random 0)
  assert.deepEqual([...unchoke].sort(), ["a", "b", "c", "d", "e"]);
});

Deno.test("chooseUnchoked() ranks by our upload rate to them while seeding", () => {
  const { unchoke } = chooseUnchoked(PEERS, { seeding: true, slots: 2, random: () => 0.99 });
  // c (9) and f (8) by rate; the optimistic slot is the last of the others.
  assert.deepEqual([...unchoke].sort(), ["c", "e", "f"]);
});

Deno.test("chooseUnchoked() never unchokes a peer that is not interested", () => {
  const { unchoke } = chooseUnchoked([peer("x", 1000, 0, false), peer("y", 1)], { seeding: false });
  assert.deepEqual([...unchoke], ["y"]);
});

Deno.test("chooseUnchoked() keeps the optimistic peer until it is time to rotate", () => {
  const first = chooseUnchoked(PEERS, { seeding: false, slots: 2, random: () => 0 });
  assert.equal(first.optimistic, "a");
  const kept = chooseUnchoked(PEERS, { seeding: false, slots: 2, optimistic: "a", random: () => 0.99 });
  assert.equal(kept.optimistic, "a");
  const rotated = chooseUnchoked(PEERS, {
    seeding: false,
    slots: 2,
    optimistic: "a",
    rotate: true,
    random: () => 0.99,
  });
  assert.equal(rotated.optimistic, "f");
  assert(rotated.unchoke.has("f") && !rotated.unchoke.has("a"));
});

Deno.test("chooseUnchoked() with fewer interested peers than slots unchokes them all, with no optimistic slot", () => {
  const { unchoke, optimistic } = chooseUnchoked([peer("a", 1), peer("b", 2)], { seeding: false });
  assert.deepEqual([...unchoke].sort(), ["a", "b"]);
  assert.equal(optimistic, undefined);
});

import assert from "node:assert/strict";
import { type ChokeCandidate, chooseUnchoked, IDLE_TURN_MS, keepAndFill } from "../../src/swarm/choker.ts";

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

const NOW = 1_000_000;
/** Unchoked `ago` ms before NOW, sending it `up` bytes a second. */
const unchoked = (key: string, up: number, ago: number): ChokeCandidate => ({
  ...peer(key, 0, up),
  unchoked: true,
  unchokedAt: NOW - ago,
});
/** Choked and interested, its last turn `ago` ms before NOW (none: never unchoked). */
const waiting = (key: string, ago?: number): ChokeCandidate => ({
  ...peer(key, 0),
  unchokedAt: ago === undefined ? undefined : NOW - ago,
});

Deno.test("chooseUnchoked() gives the slots of unchoked peers nothing flowed through to waiting ones, in turn", () => {
  const peers = [
    unchoked("a", 0, IDLE_TURN_MS), // asked for nothing since it was unchoked
    unchoked("b", 0, IDLE_TURN_MS - 1), // just unchoked: not yet idle
    unchoked("c", 5000, 60_000), // served
    waiting("w1", 20_000), // had a turn 20 s ago
    waiting("w2"), // never had one
    waiting("w3", 40_000),
  ];
  const { unchoke, optimistic } = chooseUnchoked(peers, {
    seeding: true,
    slots: 4,
    now: NOW,
    random: () => 0,
  });
  // c by rate; then b, w2 (never), w3 (longest ago); the optimistic slot to the first of the others.
  assert.deepEqual([...unchoke].sort(), ["a", "b", "c", "w2", "w3"]);
  assert.equal(optimistic, "a");
  const noIdle = chooseUnchoked(peers, { seeding: true, slots: 4, now: NOW, random: () => 0.99 });
  assert.equal(noIdle.optimistic, "w1", "an idle peer comes after every waiting one");
});

Deno.test("keepAndFill() keeps busy peers' slots, takes idle ones' for waiting peers in turn, else lets them keep theirs", () => {
  const peers = [
    unchoked("idle", 0, 10_000),
    unchoked("busy", 5000, 10_000),
    waiting("late", 1000),
    waiting("new"),
    { ...peer("not-interested", 0, 0, false) },
  ];
  assert.deepEqual([...keepAndFill(peers, { slots: 1, now: NOW })].sort(), ["busy", "new"]);
  assert.deepEqual([...keepAndFill(peers, { slots: 2, now: NOW })].sort(), ["busy", "late", "new"]);
  assert.deepEqual([...keepAndFill(peers, { slots: 3, now: NOW })].sort(), ["busy", "idle", "late", "new"]);
});

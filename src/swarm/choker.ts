/**
 * The choking algorithm (BEP 3's "tit for tat"): a few regular unchoke slots go to the interested peers that
 * upload to us fastest while we download, or that we upload to fastest while we seed; one more, optimistic, slot
 * goes to another interested peer, rotated every 30 s, so newcomers get a chance to prove themselves. A peer we
 * unchoked that nothing has flowed through for a few seconds (it asks for nothing, or reads nothing of what we
 * send) gives its slot up, and slots go to the waiting peers in turn: those never unchoked first, then the one
 * whose last turn is the oldest, so a crowd of such peers cannot keep an honest one waiting. Pure functions:
 * the supervisor calls `chooseUnchoked` every 10 s and `keepAndFill` every second in between.
 *
 * @module
 */

export interface ChokeCandidate {
  key: string;
  /** The peer wants what we have. */
  interested: boolean;
  /** Payload bytes per second it sends us. */
  downloadRate: number;
  /** Payload bytes per second we send it. */
  uploadRate: number;
  /** We unchoke it now. */
  unchoked?: boolean;
  /** When we last unchoked it (ms since the epoch); none when never. */
  unchokedAt?: number;
}

/** How long an unchoked peer may go with nothing flowing either way before its slot goes to a waiting one. */
export const IDLE_TURN_MS = 3_000;

/** An unchoked peer through which nothing flowed in the last measure, unchoked long enough to have asked. */
function idle(p: ChokeCandidate, now: number): boolean {
  return !!p.unchoked && p.uploadRate === 0 && p.downloadRate === 0 &&
    now - (p.unchokedAt ?? 0) >= IDLE_TURN_MS;
}

/** Whose turn comes first among equals: never unchoked (as at time 0), then the oldest last turn, then the address. */
function byTurn(a: ChokeCandidate, b: ChokeCandidate): number {
  return (a.unchokedAt ?? 0) - (b.unchokedAt ?? 0) || a.key.localeCompare(b.key);
}

export interface ChokeOptions {
  seeding: boolean;
  /** Regular slots (default 4). */
  slots?: number;
  /** The current optimistic peer, kept unless `rotate` is set or it left. */
  optimistic?: string;
  /** Pick a new optimistic peer. */
  rotate?: boolean;
  /** For tests: a source of numbers in [0, 1). */
  random?: () => number;
  /** For tests: the time now. */
  now?: number;
}

/** Which peers to unchoke, and which of them holds the optimistic slot. */
export function chooseUnchoked(
  peers: ChokeCandidate[],
  options: ChokeOptions,
): { unchoke: Set<string>; optimistic?: string } {
  const slots = options.slots ?? 4;
  const random = options.random ?? Math.random;
  const rate = (p: ChokeCandidate) => options.seeding ? p.uploadRate : p.downloadRate;
  const now = options.now ?? Date.now();
  const interested = peers.filter((p) => p.interested);
  // Idle peers last; then by rate; among equals, one unchoked and not idle keeps its slot, then turns.
  const rank = (p: ChokeCandidate) => idle(p, now) ? 1 : 0;
  const holds = (p: ChokeCandidate) => p.unchoked && !idle(p, now) ? 0 : 1;
  const ranked = [...interested].sort((a, b) =>
    rank(a) - rank(b) || rate(b) - rate(a) || holds(a) - holds(b) || byTurn(a, b)
  );
  const unchoke = new Set(ranked.slice(0, slots).map((p) => p.key));
  const others = interested.filter((p) => !unchoke.has(p.key));
  let optimistic = options.optimistic;
  if (options.rotate || !optimistic || !others.some((p) => p.key === optimistic)) {
    optimistic = others.length > 0 ? others[Math.floor(random() * others.length)].key : undefined;
  }
  if (optimistic) unchoke.add(optimistic);
  return { unchoke, optimistic };
}

/**
 * Between rounds: the unchoked interested peers keep their slots unless idle, and free slots (`slots` and the
 * optimistic one) go to the waiting interested peers in turn, then back to idle ones.
 */
export function keepAndFill(peers: ChokeCandidate[], options: { slots?: number; now?: number }): Set<string> {
  const slots = (options.slots ?? 4) + 1;
  const now = options.now ?? Date.now();
  const interested = peers.filter((p) => p.interested);
  const unchoke = new Set(interested.filter((p) => p.unchoked && !idle(p, now)).map((p) => p.key));
  // An idle peer keeps its slot when nobody waits for one.
  const waiting = interested.filter((p) => !p.unchoked).sort(byTurn);
  for (const p of [...waiting, ...interested.filter((p) => idle(p, now))]) {
    if (unchoke.size >= slots) break;
    unchoke.add(p.key);
  }
  return unchoke;
}

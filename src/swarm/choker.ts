/**
 * The choking algorithm (BEP 3's "tit for tat"): a few regular unchoke slots go to the interested peers that
 * upload to us fastest while we download, or that we upload to fastest while we seed; one more, optimistic, slot
 * goes to another interested peer, rotated every 30 s, so newcomers get a chance to prove themselves. A pure
 * function: the supervisor calls it every 10 s with the peers' measured rates.
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
}

/** Which peers to unchoke, and which of them holds the optimistic slot. */
export function chooseUnchoked(
  peers: ChokeCandidate[],
  options: ChokeOptions,
): { unchoke: Set<string>; optimistic?: string } {
  const slots = options.slots ?? 4;
  const random = options.random ?? Math.random;
  const rate = (p: ChokeCandidate) => options.seeding ? p.uploadRate : p.downloadRate;
  const interested = peers.filter((p) => p.interested);
  const ranked = [...interested].sort((a, b) => rate(b) - rate(a) || a.key.localeCompare(b.key));
  const unchoke = new Set(ranked.slice(0, slots).map((p) => p.key));
  const others = interested.filter((p) => !unchoke.has(p.key));
  let optimistic = options.optimistic;
  if (options.rotate || !optimistic || !others.some((p) => p.key === optimistic)) {
    optimistic = others.length > 0 ? others[Math.floor(random() * others.length)].key : undefined;
  }
  if (optimistic) unchoke.add(optimistic);
  return { unchoke, optimistic };
}

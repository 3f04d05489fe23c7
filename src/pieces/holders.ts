/**
 * Who is fetching each active piece: one peer, or up to three in the endgame. Kept in one typed array made once
 * per torrent, peers known by small numbers: a map from piece to an array of keys made a table entry and an array
 * at every piece, and with 16 KiB pieces thousands a second lived just long enough to be promoted out of V8's
 * young generation.
 *
 * @module
 */

/** The most peers fetching one piece at once. */
export const MAX_HOLDERS = 3;

/** The holders of every piece of a torrent. */
export class Holders {
  /** `MAX_HOLDERS` slots per piece, holders first, -1 after them. */
  readonly #table: Int32Array;
  readonly #slotOf = new Map<string, number>();
  readonly #keys: string[] = [];
  /** Pieces each slot holds; a slot holding none is given to the next new key. */
  readonly #held: number[] = [];
  readonly #free: number[] = [];
  #copies = 0;

  constructor(readonly pieceCount: number) {
    this.#table = new Int32Array(pieceCount * MAX_HOLDERS).fill(-1);
  }

  /** How many peers hold piece `index`. */
  count(index: number): number {
    const at = index * MAX_HOLDERS;
    let n = 0;
    while (n < MAX_HOLDERS && this.#table[at + n] >= 0) n++;
    return n;
  }

  /** Holders beyond the first of each piece, over all pieces: the endgame's duplicates in flight. */
  get copies(): number {
    return this.#copies;
  }

  /** True when `key` holds piece `index`. */
  has(index: number, key: string): boolean {
    const slot = this.#slotOf.get(key);
    return slot !== undefined && this.#find(index, slot) >= 0;
  }

  /** `key` holds piece `index` too; false when it already did or the piece has all the holders it may have. */
  add(index: number, key: string): boolean {
    const n = this.count(index);
    if (n === MAX_HOLDERS || this.has(index, key)) return false;
    const slot = this.#slot(key);
    this.#table[index * MAX_HOLDERS + n] = slot;
    this.#held[slot]++;
    if (n > 0) this.#copies++;
    return true;
  }

  /** `key` no longer holds piece `index`; false when it did not. */
  remove(index: number, key: string): boolean {
    const slot = this.#slotOf.get(key);
    const k = slot === undefined ? -1 : this.#find(index, slot);
    if (k < 0) return false;
    const at = index * MAX_HOLDERS;
    if (this.#table[at + 1] >= 0) this.#copies--; // it had two holders or more
    this.#table.copyWithin(at + k, at + k + 1, at + MAX_HOLDERS);
    this.#table[at + MAX_HOLDERS - 1] = -1;
    this.#unhold(slot!);
    return true;
  }

  /** The holders of piece `index` other than `key` (a new array only when there are some). */
  others(index: number, key: string): readonly string[] {
    let out: readonly string[] = NONE;
    const at = index * MAX_HOLDERS;
    for (let k = 0; k < MAX_HOLDERS && this.#table[at + k] >= 0; k++) {
      const other = this.#keys[this.#table[at + k]];
      if (other === key) continue;
      out = out === NONE ? [other] : [...out, other];
    }
    return out;
  }

  /** Nobody holds piece `index` any more. */
  clear(index: number): void {
    const at = index * MAX_HOLDERS;
    for (let k = 0; k < MAX_HOLDERS && this.#table[at + k] >= 0; k++) {
      if (k > 0) this.#copies--;
      this.#unhold(this.#table[at + k]);
      this.#table[at + k] = -1;
    }
  }

  /** The pieces `key` holds, in index order. */
  piecesOf(key: string): number[] {
    const slot = this.#slotOf.get(key);
    const out: number[] = [];
    if (slot === undefined) return out;
    for (let i = 0; i < this.pieceCount; i++) if (this.#find(i, slot) >= 0) out.push(i);
    return out;
  }

  /** Every holder's pieces (for a person watching). */
  all(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (let i = 0; i < this.#table.length; i++) {
      const slot = this.#table[i];
      if (slot < 0) continue;
      const key = this.#keys[slot];
      let pieces = out.get(key);
      if (!pieces) out.set(key, pieces = []);
      pieces.push(Math.floor(i / MAX_HOLDERS));
    }
    return out;
  }

  #find(index: number, slot: number): number {
    const at = index * MAX_HOLDERS;
    for (let k = 0; k < MAX_HOLDERS; k++) {
      const s = this.#table[at + k];
      if (s === slot) return k;
      if (s < 0) return -1;
    }
    return -1;
  }

  #slot(key: string): number {
    let slot = this.#slotOf.get(key);
    if (slot !== undefined) return slot;
    slot = this.#free.pop() ?? this.#keys.length;
    this.#keys[slot] = key;
    this.#held[slot] = 0;
    this.#slotOf.set(key, slot);
    return slot;
  }

  #unhold(slot: number): void {
    if (--this.#held[slot] > 0) return;
    this.#slotOf.delete(this.#keys[slot]);
    this.#free.push(slot);
  }
}

/** The answer of `others` when there are none: shared, never written to. */
const NONE: readonly string[] = Object.freeze([]);

/**
 * `get_peers` tokens (BEP 5): a token is the SHA-1 of a secret and the asker's address, so only a node that
 * really receives packets at that address can `announce_peer` from it. The secret changes every 5 minutes and
 * the one before stays valid, so a token is good for 5 to 10 minutes.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { equalBytes } from "../common/bytes.ts";

/** How often the secret changes. */
export const ROTATE_MS = 5 * 60_000;

/** Makes and checks tokens for one node. */
export class Tokens {
  #secret = crypto.getRandomValues(new Uint8Array(16));
  #previous = crypto.getRandomValues(new Uint8Array(16));
  #rotatedAt: number;

  constructor(readonly now: () => number = Date.now) {
    this.#rotatedAt = now();
  }

  /** The token for `host` now. */
  issue(host: string): Uint8Array {
    this.#rotate();
    return this.#token(this.#secret, host);
  }

  /** True when `token` was issued to `host` with the current secret or the one before. */
  accepts(host: string, token: Uint8Array): boolean {
    this.#rotate();
    return equalBytes(token, this.#token(this.#secret, host)) ||
      equalBytes(token, this.#token(this.#previous, host));
  }

  #rotate(): void {
    const now = this.now();
    if (now - this.#rotatedAt < ROTATE_MS) return;
    // Past two periods both secrets are stale: a token older than 10 minutes never passes.
    this.#previous = now - this.#rotatedAt < 2 * ROTATE_MS
      ? this.#secret
      : crypto.getRandomValues(new Uint8Array(16));
    this.#secret = crypto.getRandomValues(new Uint8Array(16));
    this.#rotatedAt = now;
  }

  #token(secret: Uint8Array, host: string): Uint8Array {
    return new Uint8Array(createHash("sha1").update(secret).update(host).digest()).subarray(0, 8);
  }
}

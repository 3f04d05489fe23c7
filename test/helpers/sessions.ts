/** Sessions of our own client for tests: a seeder that serves a payload from memory. */

import { type DownloadOptions, type DownloadSession, startDownload } from "../../actors/client.ts";
import type { Metainfo } from "../../src/metainfo/metainfo.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";

/** A seed-only session on 127.0.0.1 (a free port) serving `data` from memory; `options` add to or override it. */
export function memorySeeder(
  meta: Metainfo,
  data: Uint8Array,
  options: DownloadOptions = {},
): DownloadSession {
  return startDownload(meta, {
    storage: (m) => {
      const storage = new MemoryStorage(m.totalLength);
      storage.data.set(data);
      return Promise.resolve({ storage, existed: true });
    },
    seedOnly: true,
    seed: {},
    listen: "127.0.0.1",
    port: 0,
    ...options,
  });
}

/** Waits until the session is active and returns the port it listens on. */
export async function listeningPort(session: DownloadSession): Promise<number> {
  while (!session.progress().state.startsWith("active")) await new Promise((r) => setTimeout(r, 10));
  return session.progress().port;
}

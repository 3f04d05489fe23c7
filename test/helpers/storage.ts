/** Storage for tests: a torrent's bytes in memory, handed to `startDownload` through its `storage` option. */

import type { DownloadOptions } from "../../actors/client.ts";
import { MemoryStorage } from "../../src/storage/storage.ts";

/**
 * A `storage` option that keeps the data in memory: empty, or already holding `data` (a seeder's). `data()` is
 * what was written, once the download opened its storage.
 */
export function memoryStorage(data?: Uint8Array): {
  open: NonNullable<DownloadOptions["storage"]>;
  data: () => Uint8Array | undefined;
} {
  let storage: MemoryStorage | undefined;
  return {
    open: (m) => {
      storage = new MemoryStorage(m.totalLength);
      if (data) storage.data.set(data);
      return Promise.resolve({ storage, existed: data !== undefined });
    },
    data: () => storage?.data,
  };
}

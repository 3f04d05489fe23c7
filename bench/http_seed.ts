/**
 * A plain HTTP file server for the web-seed scenario, run as its own process so its CPU is not the client's:
 * serves the files under a folder with `Range` (206), reading them from disk.
 *
 *   deno run -A bench/http_seed.ts <dir> <port>
 */

const [dir, portText] = Deno.args;

Deno.serve(
  { hostname: "127.0.0.1", port: Number(portText), onListen: () => console.log("listening") },
  async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 403 });
    let file: Deno.FsFile;
    try {
      file = await Deno.open(`${dir}${path}`);
    } catch {
      return new Response("not found", { status: 404 });
    }
    const size = (await file.stat()).size;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.get("range") ?? "");
    if (!m) return new Response(file.readable, { headers: { "content-length": String(size) } });
    const start = Number(m[1]), end = Math.min(m[2] ? Number(m[2]) : size - 1, size - 1);
    if (start > end) {
      file.close();
      return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
    }
    await file.seek(start, Deno.SeekMode.Start);
    let left = end - start + 1;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const buf = new Uint8Array(Math.min(left, 1 << 20));
        const n = await file.read(buf);
        if (n === null || n === 0) {
          file.close();
          return controller.close();
        }
        controller.enqueue(buf.subarray(0, n));
        left -= n;
        if (left === 0) {
          file.close();
          controller.close();
        }
      },
      cancel: () => file.close(),
    });
    return new Response(body, {
      status: 206,
      headers: {
        "content-range": `bytes ${start}-${end}/${size}`,
        "content-length": String(end - start + 1),
      },
    });
  },
);

/**
 * A master or worker stopped with SIGTERM ends its gRPC connections without an HTTP/2 GOAWAY:
 * Deno 2.9 can abort a process whose HTTP/2 session receives one (denoland/deno#36788, the
 * assertion in nghttp2's find_stream_on_goaway_func), so a graceful close would put every peer
 * at risk — followers of a leader that stops, the masters watching a worker, a worker a master
 * watched. The peers are watched here from a raw HTTP/2 connection, frame by frame.
 */
import assert from "node:assert/strict";
import { Cluster } from "./kit/cluster.ts";
import type { CrawlerProcess } from "./kit/crawler.ts";
import { waitFor } from "./kit/wait.ts";

/** HTTP/2 frame types (RFC 9113 §6). */
const SETTINGS = 0x4;
const GOAWAY = 0x7;

/** A client's opening: the connection preface and an empty SETTINGS frame. */
const PREFACE = new Uint8Array([
  ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  ...[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0],
]);

/** An open HTTP/2 connection that records the type of each frame the server sends. */
class FrameWatcher {
  readonly types: number[] = [];
  readonly closed: Promise<void>;
  #conn: Deno.TcpConn;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.closed = this.#read();
  }

  static async open(port: number): Promise<FrameWatcher> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(PREFACE);
    return new FrameWatcher(conn);
  }

  /** Reads frames until the server ends the connection (EOF or a reset). */
  async #read(): Promise<void> {
    let buffered = new Uint8Array(0);
    const chunk = new Uint8Array(16 * 1024);
    try {
      // Bounded by the connection: it ends when the server's process exits.
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(buffered.length + n);
        joined.set(buffered);
        joined.set(chunk.subarray(0, n), buffered.length);
        buffered = joined;
        // A frame: a 24-bit length, a type, flags, a stream id (9 bytes), then the payload.
        while (buffered.length >= 9) {
          const length = (buffered[0] << 16) | (buffered[1] << 8) | buffered[2];
          if (buffered.length < 9 + length) break;
          this.types.push(buffered[3]);
          buffered = buffered.slice(9 + length);
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    } finally {
      this.#conn.close();
    }
  }
}

/**
 * Stops `process` with SIGTERM while a raw connection to its gRPC port watches, once the server
 * has answered on it (its SETTINGS).
 */
async function framesOnStop(cluster: Cluster, process: CrawlerProcess): Promise<number[]> {
  const watcher = await FrameWatcher.open(process.grpcPort);
  await waitFor(() => watcher.types.includes(SETTINGS), {
    what: `${process.role} ${process.n}'s SETTINGS on a new HTTP/2 connection`,
  });
  await cluster.signal(process, "SIGTERM");
  await watcher.closed;
  assert.equal(process.exited?.code, 0, `${process.role} ${process.n} exited badly`);
  return watcher.types;
}

Deno.test("a master and a worker stopped with SIGTERM send their gRPC peers no GOAWAY", async (t) => {
  await using cluster = await Cluster.start({ masters: 2, workers: 1 });
  await cluster.step(t, "the worker", async () => {
    const types = await framesOnStop(cluster, cluster.workers.get(1)!);
    assert.ok(!types.includes(GOAWAY), `the worker sent a GOAWAY: frames ${types}`);
  });
  await cluster.step(t, "the leading master", async () => {
    const leader = await cluster.leader();
    const types = await framesOnStop(cluster, leader);
    assert.ok(!types.includes(GOAWAY), `the master sent a GOAWAY: frames ${types}`);
    // The other master, whose channel to the leader ended without one, leads now.
    const next = await cluster.leader();
    assert.notEqual(next.id, leader.id);
  });
});

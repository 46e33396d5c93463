/**
 * `crawler dev` as a user runs it: master and worker in one process on the embedded store,
 * the HTTP API and the dashboard on one port, resources kept across a restart.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startDoubanFixture } from "./douban_fixture.ts";
import { http, startDev, waitFor } from "./kit/mod.ts";

Deno.test("crawler dev runs a task added over HTTP and keeps it across a restart", async () => {
  const site = startDoubanFixture({ tags: 2, booksPerTag: 5 });
  const dir = await Deno.makeTempDir();
  let dev = await startDev({ cwd: dir });
  const port = dev.httpPort;
  try {
    await waitFor(async () => (await http(dev.url("/crawler/leader"))).body.isLeader === true, {
      what: "a leader",
      timeoutMs: 20_000,
    });
    await waitFor(async () => (await http(dev.url("/worker/readyz"))).status === 200, {
      what: "the worker",
    });
    const spec = {
      rule: "douban_book_list",
      url: `${site.url}/`,
      waitTime: 0,
      reload: false,
      limits: [],
    };
    const added = await http(dev.url("/crawler/resource"), {
      method: "POST",
      json: { name: "books", spec },
    });
    assert.deepEqual(added, {
      status: 200,
      body: { id: "crawler.worker-1", Address: `127.0.0.1:${port}` },
    });

    const tasks = async () =>
      (await http(dev.url("/worker/tasks"))).body.tasks as Array<{ name: string; state: string }>;
    await waitFor(async () => (await tasks())[0]?.state === "finished", {
      what: "the task to finish",
    });
    const dashboard = await fetch(dev.url("/"));
    assert.match(await dashboard.text(), /<title>crawler · cluster<\/title>/);
    // The dashboard's view of the task, gathered from the in-process worker.
    await waitFor(async () => {
      const { body } = await http(dev.url("/crawler/resource/books"));
      return body.state === "finished" &&
        (body.totals as { items: number }).items === site.books.length;
    }, { what: "the view to show the task finished" });

    const bad = await http(dev.url("/crawler/resource"), { method: "POST", json: { name: "" } });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /name/);

    assert.equal((await dev.stop("SIGINT")).code, 0, dev.logs.slice(-20).join("\n"));
    const db = new DatabaseSync(`${dir}/data/crawler.db`);
    try {
      assert.equal(db.prepare(`SELECT count(*) AS n FROM "books"`).get()!.n, site.books.length);
    } finally {
      db.close();
    }

    // The resource survives the restart and runs again: its crawl (named by the resource's ID)
    // had finished, so nothing is fetched again.
    const fetched = site.log.length;
    dev = await startDev({ cwd: dir, port });
    await waitFor(async () => (await tasks().catch(() => []))[0]?.state === "finished", {
      what: "the task to run again and find its crawl finished",
      timeoutMs: 20_000,
    });
    assert.equal(site.log.length, fetched, "no page fetched again");
    const listed = await http(dev.url("/crawler/resource"));
    assert.deepEqual((listed.body.resources as Array<{ Name: string }>).map((r) => r.Name), [
      "books",
    ]);
    assert.equal((await dev.stop("SIGTERM")).code, 0);
  } catch (error) {
    console.error(dev.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await dev.stop("SIGKILL");
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { createBroadSite, hostAddress, hostIndex, MAX_HOSTS, pageLinks } from "./broad_site.ts";

Deno.test("broad site hosts are loopback addresses without 0 or 255 octets, never 127.0.0.1", () => {
  for (const i of [0, 1, 253, 254, 64_515, 64_516, 49_999, 1_000_000, MAX_HOSTS - 1]) {
    const address = hostAddress(i);
    const octets = address.split(".").map(Number);
    assert.equal(octets[0], 127);
    assert.ok(octets.slice(1).every((o) => o >= 1 && o <= 254), address);
    assert.equal(hostIndex(address), i);
  }
  assert.equal(hostAddress(0), "127.1.1.1");
  assert.equal(hostIndex("127.0.0.1"), undefined);
  assert.equal(hostIndex("127.1.1.255"), undefined);
  assert.throws(() => hostAddress(MAX_HOSTS));
});

Deno.test("broad site: every page is reachable from host 0's page 0, links go to other hosts", () => {
  const options = { hosts: 300, pages: 6 };
  const seen = new Set<number>([0]);
  const queue: Array<[number, number]> = [[0, 0]];
  for (let i = 0; i < queue.length; i++) {
    const [host, page] = queue[i];
    const links = pageLinks(host, page, options);
    assert.equal(links.length, 3);
    assert.ok(links.slice(1).every(([h]) => h !== host), "two links to other hosts");
    for (const [h, p] of links) {
      if (!seen.has(h * 6 + p)) {
        seen.add(h * 6 + p);
        queue.push([h, p]);
      }
    }
  }
  assert.equal(seen.size, 300 * 6);
  assert.deepEqual(pageLinks(7, 3, options), pageLinks(7, 3, options), "the same site every run");
});

Deno.test("broad site answers loopback peers only and counts gaps and repeated pages", () => {
  let clock = 0;
  const site = createBroadSite({ hosts: 3, pages: 2, fillerBytes: 100 }, () => clock);
  const get = (url: string, peer = "127.0.0.1") => site.handle(new Request(url), peer, 80);
  assert.equal(get("http://127.1.1.1/p0", "10.0.0.2").status, 403);
  assert.equal(get("http://127.1.1.1/robots.txt").status, 200);
  clock = 10;
  const page = get("http://127.1.1.1/p0");
  assert.equal(page.status, 200);
  clock = 2_010;
  get("http://127.1.1.1/p1");
  clock = 2_500;
  get("http://127.1.1.1/p1");
  get("http://127.1.1.2/p0");
  assert.equal(get("http://127.1.1.4/p0").status, 404, "no fourth host");
  const summary = site.summary(2000);
  assert.deepEqual(
    [summary.pageRequests, summary.fetched, summary.fetchedOnce, summary.fetchedAgain],
    [4, 3, 2, 1],
  );
  assert.deepEqual([summary.minGapMs, summary.minGapHost, summary.gapsUnder], [
    490,
    "127.1.1.1",
    1,
  ]);
  assert.deepEqual([summary.refused, summary.notFound, summary.robotsRequests], [1, 1, 1]);
});

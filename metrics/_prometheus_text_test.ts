import assert from "node:assert/strict";
import { parsePrometheusText } from "./_prometheus_text.ts";

Deno.test("the test parser reads valid exposition text", () => {
  const families = parsePrometheusText(`# HELP a_total A.
# TYPE a_total counter
a_total{task="say \\"hi\\"",x="a\\\\b\\nc"} 3
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.3
h_count 2
`);
  assert.deepEqual(families.get("a_total")!.samples[0].labels, { task: 'say "hi"', x: "a\\b\nc" });
  assert.equal(families.get("h")!.samples.length, 4);
});

Deno.test("the test parser rejects what a Prometheus server would", () => {
  const bad = [
    "x 1\n", // no TYPE
    "# TYPE x gauge\nx Nan\n", // prom-client's default collectors print this under Deno
    '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n', // repeated series
    '# TYPE x gauge\nx{1a="1"} 1\n',
    '# TYPE x gauge\nx{a="\\t"} 1\n',
    "# TYPE x counter\nx -1\n",
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n',
    "# TYPE x gauge\nx 1", // no final newline
  ];
  for (const text of bad) assert.throws(() => parsePrometheusText(text), Error, text);
});

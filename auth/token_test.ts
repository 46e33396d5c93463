import assert from "node:assert/strict";
import { ConfigError } from "../errors/mod.ts";
import { createLogger } from "../log/logger.ts";
import { checkListenPolicy, isLoopback } from "./listen_policy.ts";
import { authHeaders, bearerToken, resolveToken, tokenMatches } from "./token.ts";

const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });

Deno.test("the token comes from CRAWLER_TOKEN, else the config's auth.token", () => {
  const config = { auth: { token: "from-config", metrics: "token" as const } };
  assert.equal(resolveToken(config, env({ CRAWLER_TOKEN: "from-env" })), "from-env");
  assert.equal(resolveToken(config, env({ CRAWLER_TOKEN: "" })), "from-config");
  assert.equal(resolveToken({ auth: { metrics: "token" } }, env({})), undefined);
  assert.throws(
    () => resolveToken(config, env({ CRAWLER_TOKEN: "two words" })),
    /^ConfigError: CRAWLER_TOKEN: must be one word/,
  );
  assert.throws(
    () => resolveToken({ auth: { token: "line\n", metrics: "token" } }, env({})),
    /^ConfigError: auth\.token: must be one word/,
  );
});

Deno.test("a presented token must match exactly", () => {
  assert.equal(tokenMatches("s3cret", "s3cret"), true);
  assert.equal(tokenMatches("s3cre", "s3cret"), false);
  assert.equal(tokenMatches("s3cret ", "s3cret"), false);
  assert.equal(tokenMatches("", "s3cret"), false);
  assert.equal(tokenMatches(undefined, "s3cret"), false);
});

Deno.test("the bearer token is read from the Authorization header", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer  abc"), "abc");
  assert.equal(bearerToken("Basic abc"), undefined);
  assert.equal(bearerToken("Bearer"), undefined);
  assert.equal(bearerToken(undefined), undefined);
  assert.deepEqual(authHeaders("abc"), { Authorization: "Bearer abc" });
  assert.deepEqual(authHeaders(undefined), {});
});

Deno.test("without a token a process may listen on loopback only, unless --insecure", () => {
  assert.ok(isLoopback("127.0.0.1") && isLoopback("127.1.2.3") && isLoopback("::1"));
  assert.ok(isLoopback("localhost") && !isLoopback("") && !isLoopback("0.0.0.0"));
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  const loopback = [{ address: { host: "127.0.0.1", port: 8081 }, source: "--http" }];
  const exposed = [...loopback, { address: { host: "", port: 9091 }, source: "--grpc" }];
  const policy = { token: undefined, insecure: false, role: "master", logger };

  checkListenPolicy(loopback, policy);
  checkListenPolicy(exposed, { ...policy, token: "t" });
  assert.deepEqual(lines, []);
  assert.throws(
    () => checkListenPolicy(exposed, policy),
    (error) =>
      error instanceof ConfigError &&
      /^auth\.token: not set, and crawler master would listen on 0\.0\.0\.0:9091 \(--grpc\)/
        .test(error.message) &&
      /--insecure/.test(error.message),
  );
  checkListenPolicy(exposed, { ...policy, insecure: true });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /"level":"WARN".*INSECURE.*0\.0\.0\.0:9091/);
});

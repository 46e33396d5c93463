/**
 * @module
 * The dashboard's API client: `api(method, path, body)` answers the parsed JSON or throws with
 * the API's error message. Every write carries an `Idempotency-Key` made once for it, and a 503
 * or a missing answer (the outcome is unknown) is sent again with the same key until it is
 * answered or 30 s pass, so a write is never applied twice nor refused with 409/404 because an
 * earlier try of it was applied. The page runs it (bundled into `dashboard_app.js`) and so do
 * tests, with their own `fetch` (`dashboardApiClient` in `master/_testing.ts`): it uses nothing
 * of the DOM.
 */

/** Thrown when the API asks for a token: the page has asked the user, there is nothing to show. */
export class AuthNeeded extends Error {}

/** `api(method, path, body)`: the parsed JSON answer, or throws its error. */
export type DashboardApi = <T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: string,
) => Promise<T>;

/** What {@linkcode apiClient} needs of the page. */
export interface ApiClientDeps {
  /** The browser's `fetch` (tests pass their own). */
  fetch(path: string, init: RequestInit): Promise<Response>;
  /** The token the tab holds (`sessionStorage`), or null. */
  token(): string | null;
  /** Asks the user for a token, saying why (an empty message the first time). */
  askToken(message: string): void;
}

// A write's outcome is unknown after a 503 or no answer: it is sent again, with the same
// Idempotency-Key, until it gets an answer or WRITE_RETRY_MS pass. The leader answers a retry of
// a write it already made as it answered the first time, instead of 409 or 404.
const WRITE_RETRY_MS = 30000;

/** A random key for one write. `getRandomValues`, since `randomUUID` needs https. */
function newIdempotencyKey(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** The client the page uses for every call of the API but downloads. */
export function apiClient(deps: ApiClientDeps): DashboardApi {
  return async function api<T>(method: string, path: string, body?: string): Promise<T> {
    const write = method !== "GET";
    const key = write ? newIdempotencyKey() : undefined;
    const deadline = Date.now() + WRITE_RETRY_MS;
    for (let attempt = 0;; attempt++) {
      const headers: Record<string, string> = {};
      const token = deps.token();
      if (token) headers.authorization = "Bearer " + token;
      if (body !== undefined) headers["content-type"] = "application/json";
      if (key) headers["idempotency-key"] = key;
      const wait = Math.min(1000, 200 * 2 ** attempt);
      let response: Response;
      try {
        response = await deps.fetch(path, { method, headers, body });
      } catch (error) {
        if (write && Date.now() + wait < deadline) {
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
        throw error;
      }
      if (response.status === 401) {
        deps.askToken(token ? "That token was refused." : "");
        throw new AuthNeeded("token needed");
      }
      const data = parseAnswer(await response.text());
      if (write && response.status === 503 && Date.now() + wait < deadline) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      if (!response.ok) throw new Error(errorOf(data, response.status));
      return data as T;
    }
  };
}

/** An answer's body as JSON; a body that is not JSON is the error message. */
export function parseAnswer(text: string): Record<string, unknown> {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { error: text };
  }
}

/** The message of an error answer: its `error`, else its status. */
export function errorOf(data: Record<string, unknown>, status: number): string {
  return String(data.error || "HTTP " + status);
}

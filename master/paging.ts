/**
 * @module
 * Paging of the list answers (`?limit=&after=` on HTTP, `ListRequest` on gRPC): lists are sorted
 * by a unique key (a resource's name, a worker's id), and a page is the entries after a key.
 */
import { InvalidArgumentError } from "../errors/mod.ts";

/** Entries in one page when the caller sets no limit, and the most it may ask for. */
export const MAX_PAGE_SIZE = 1000;

/** A page request. */
export interface PageRequest {
  /** At most this many entries; undefined or 0: {@linkcode MAX_PAGE_SIZE}. */
  limit?: number;
  /** Only entries whose key sorts after this one. */
  after?: string;
}

/** One page and the `after` of the next, when there is more. */
export interface Page<T> {
  items: T[];
  next?: string;
}

/**
 * The page of `items` (sorted by `key`, ascending) that `request` asks for. Throws
 * `InvalidArgumentError` for a limit that is not an integer in 0..{@linkcode MAX_PAGE_SIZE}.
 */
export function pageOf<T>(
  items: readonly T[],
  key: (item: T) => string,
  request: PageRequest,
): Page<T> {
  const limit = request.limit || MAX_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(`limit: expected an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  const after = request.after;
  const rest = after ? items.filter((item) => key(item) > after) : items;
  const page = rest.slice(0, limit);
  return rest.length > limit ? { items: page, next: key(page[page.length - 1]) } : { items: page };
}

/** A page request from `?limit=&after=` query parameters (400 naming `limit` when bad). */
export function pageRequestFromQuery(
  limit: string | undefined,
  after: string | undefined,
): PageRequest {
  if (limit !== undefined && !/^\d+$/.test(limit)) {
    throw new InvalidArgumentError(`limit: expected an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return {
    ...(limit !== undefined ? { limit: Number(limit) === 0 ? -1 : Number(limit) } : {}),
    ...(after ? { after } : {}),
  };
}

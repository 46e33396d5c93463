/**
 * @module
 * The built-in rule sets, by name.
 */
import type { RuleSet } from "../spider/rule_set.ts";
import { doubanBookList } from "./douban_book_list.ts";
import { findDoubanSunRoom } from "./find_douban_sun_room.ts";

/** A fresh map of the built-in rule sets (a new map each call: no shared mutable registry). */
export function builtinRuleSets(): Map<string, RuleSet> {
  return new Map([doubanBookList, findDoubanSunRoom].map((r) => [r.name, r]));
}

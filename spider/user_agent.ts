/**
 * @module
 * Random desktop browser User-Agent strings, ported from the Go project's
 * `extensions/randomua.go` (Firefox, Chrome, Edge and Opera built from version lists).
 */

/** Firefox 72 to 87 (2020–2021), as in the Go project. */
const firefoxVersions: readonly number[] = Array.from({ length: 16 }, (_, i) => 72 + i);

const chromeVersions: readonly string[] = [
  // 2020
  "79.0.3945.117",
  "79.0.3945.130",
  "80.0.3987.106",
  "80.0.3987.116",
  "80.0.3987.122",
  "80.0.3987.132",
  "80.0.3987.149",
  "80.0.3987.163",
  "80.0.3987.87",
  "81.0.4044.113",
  "81.0.4044.122",
  "81.0.4044.129",
  "81.0.4044.138",
  "81.0.4044.92",
  "83.0.4103.106",
  "83.0.4103.116",
  "83.0.4103.97",
  "84.0.4147.105",
  "84.0.4147.125",
  "84.0.4147.135",
  "85.0.4183.102",
  "85.0.4183.121",
  "85.0.4183.83",
  "86.0.4240.111",
  "86.0.4240.183",
  "86.0.4240.198",
  "86.0.4240.75",
  // 2021
  "87.0.4280.141",
  "87.0.4280.66",
  "87.0.4280.88",
  "88.0.4324.146",
  "88.0.4324.182",
  "88.0.4324.190",
  "89.0.4389.114",
  "89.0.4389.90",
  "90.0.4430.72",
];

/** [Chrome version, Edge version] pairs. */
const edgeVersions: readonly (readonly [string, string])[] = [
  ["79.0.3945.74", "79.0.309.43"],
  ["80.0.3987.87", "80.0.361.48"],
  ["84.0.4147.105", "84.0.522.50"],
  ["89.0.4389.128", "89.0.774.77"],
  ["90.0.4430.72", "90.0.818.39"],
];

const operaVersions: readonly string[] = [
  "2.7.62 Version/11.00",
  "2.2.15 Version/10.10",
  "2.9.168 Version/11.50",
  "2.2.15 Version/10.00",
  "2.8.131 Version/11.11",
  "2.5.24 Version/10.54",
];

const osStrings: readonly string[] = [
  // macOS High Sierra
  "Macintosh; Intel Mac OS X 10_13",
  "Macintosh; Intel Mac OS X 10_13_1",
  "Macintosh; Intel Mac OS X 10_13_2",
  "Macintosh; Intel Mac OS X 10_13_3",
  "Macintosh; Intel Mac OS X 10_13_4",
  "Macintosh; Intel Mac OS X 10_13_5",
  "Macintosh; Intel Mac OS X 10_13_6",
  // macOS Mojave
  "Macintosh; Intel Mac OS X 10_14",
  "Macintosh; Intel Mac OS X 10_14_1",
  "Macintosh; Intel Mac OS X 10_14_2",
  "Macintosh; Intel Mac OS X 10_14_3",
  "Macintosh; Intel Mac OS X 10_14_4",
  "Macintosh; Intel Mac OS X 10_14_5",
  "Macintosh; Intel Mac OS X 10_14_6",
  // macOS Catalina
  "Macintosh; Intel Mac OS X 10_15",
  "Macintosh; Intel Mac OS X 10_15_1",
  "Macintosh; Intel Mac OS X 10_15_2",
  "Macintosh; Intel Mac OS X 10_15_3",
  "Macintosh; Intel Mac OS X 10_15_4",
  "Macintosh; Intel Mac OS X 10_15_5",
  "Macintosh; Intel Mac OS X 10_15_6",
  "Macintosh; Intel Mac OS X 10_15_7",
  // macOS Big Sur
  "Macintosh; Intel Mac OS X 11_0",
  "Macintosh; Intel Mac OS X 11_0_1",
  "Macintosh; Intel Mac OS X 11_1",
  "Macintosh; Intel Mac OS X 11_2",
  "Macintosh; Intel Mac OS X 11_2_1",
  "Macintosh; Intel Mac OS X 11_2_2",
  "Macintosh; Intel Mac OS X 11_2_3",
  // Windows
  "Windows NT 10.0; Win64; x64",
  "Windows NT 5.1",
  "Windows NT 6.1; WOW64",
  "Windows NT 6.1; Win64; x64",
  // Linux
  "X11; Linux x86_64",
];

type Random = () => number;

/** One element, chosen by `random` (clamped so a `random` returning 1 stays in range). */
function pick<T>(list: readonly T[], random: Random): T {
  return list[Math.min(list.length - 1, Math.floor(random() * list.length))];
}

const generators: readonly ((random: Random) => string)[] = [
  // "Mozilla/5.0 (X11; Linux x86_64; rv:87.0) Gecko/20100101 Firefox/87.0"
  (random) => {
    const version = pick(firefoxVersions, random).toFixed(1);
    const os = pick(osStrings, random);
    return `Mozilla/5.0 (${os}; rv:${version}) Gecko/20100101 Firefox/${version}`;
  },
  // "Mozilla/5.0 (…) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.72 Safari/537.36"
  (random) => {
    const version = pick(chromeVersions, random);
    const os = pick(osStrings, random);
    return `Mozilla/5.0 (${os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${version} Safari/537.36`;
  },
  // Chrome's string plus "Edg/90.0.818.39"
  (random) => {
    const [chrome, edge] = pick(edgeVersions, random);
    const os = pick(osStrings, random);
    return `Mozilla/5.0 (${os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${chrome} Safari/537.36 Edg/${edge}`;
  },
  // "Opera/9.80 (X11; Linux x86_64; U; en) Presto/2.8.131 Version/11.11"
  (random) => {
    const version = pick(operaVersions, random);
    const os = pick(osStrings, random);
    return `Opera/9.80 (${os}; U; en) Presto/${version}`;
  },
];

/**
 * A random desktop browser User-Agent: Firefox, Chrome, Edge or Opera with a random version
 * and operating system, so that a site sees the crawler's requests as coming from browsers.
 *
 * @param random uniform in [0, 1); pass a seeded generator for reproducible output.
 * @example
 * ```ts
 * headers.set("User-Agent", randomUserAgent());
 * ```
 */
export function randomUserAgent(random: Random = Math.random): string {
  return pick(generators, random)(random);
}

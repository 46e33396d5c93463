/**
 * @module
 * What the tests need besides Deno: etcd, Postgres, Chromium (the dashboard's browser test) and
 * Python 3 (its `csv` module reads the exports back).
 * `deno task test` runs this first. Each missing one is installed with apt-get when this runs as
 * root on Debian; otherwise it says exactly what is missing and how to install it, and exits 1.
 *
 *   deno run --allow-run --allow-read --allow-env --allow-sys tests/setup.ts [--check]
 *
 * `--check` only reports, never installs.
 */

interface Requirement {
  what: string;
  /** The Debian package that provides it. */
  aptPackage: string;
  present(): Promise<boolean>;
}

const REQUIREMENTS: Requirement[] = [
  { what: "etcd", aptPackage: "etcd-server", present: () => runs("etcd", ["--version"]) },
  {
    what: "Postgres server",
    aptPackage: "postgresql",
    present: async () => (await postgresBinDirs()).length > 0,
  },
  {
    what: "Chromium",
    aptPackage: "chromium",
    present: async () =>
      (await exists("/usr/bin/chromium")) || (await runs("chromium", ["--version"])),
  },
  // The export tests read CSV back with Python's own `csv` module: a reader that is not ours.
  { what: "Python 3", aptPackage: "python3", present: () => runs("python3", ["--version"]) },
];

async function runs(program: string, args: string[]): Promise<boolean> {
  try {
    const output = await new Deno.Command(program, { args, stdout: "null", stderr: "null" })
      .output();
    return output.success;
  } catch {
    return false; // not on PATH
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function postgresBinDirs(): Promise<string[]> {
  const dirs: string[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (await exists(`/usr/lib/postgresql/${entry.name}/bin/postgres`)) dirs.push(entry.name);
    }
  } catch {
    // no /usr/lib/postgresql: not installed
  }
  return dirs;
}

async function aptInstall(packages: string[]): Promise<boolean> {
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  console.error(`tests/setup: installing ${packages.join(", ")} with apt-get`);
  const update = await new Deno.Command("apt-get", { args: ["update", "-qq"], env }).output();
  if (!update.success) return false;
  const install = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "--no-install-recommends", ...packages],
    env,
    stdout: "null",
  }).output();
  return install.success;
}

async function missing(): Promise<Requirement[]> {
  const absent: Requirement[] = [];
  for (const requirement of REQUIREMENTS) {
    if (!(await requirement.present())) absent.push(requirement);
  }
  return absent;
}

if (import.meta.main) {
  let absent = await missing();
  const checkOnly = Deno.args.includes("--check");
  if (
    absent.length > 0 && !checkOnly && Deno.uid() === 0 && (await runs("apt-get", ["--version"]))
  ) {
    await aptInstall(absent.map((r) => r.aptPackage));
    absent = await missing();
  }
  if (absent.length > 0) {
    console.error(
      `tests/setup: the tests need ${absent.map((r) => r.what).join(", ")}, not found.\n` +
        `Install: sudo apt-get install -y ${absent.map((r) => r.aptPackage).join(" ")}\n` +
        "(as root on Debian, `deno task test` installs them itself)",
    );
    Deno.exit(1);
  }
}

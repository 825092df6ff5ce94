// Starts the real simgate binary ($SIMGATE_BIN) on a free port with SQLite in a temporary
// directory, a fresh data key, a signing key and two kiosk API keys (scope kiosk: their own sessions only, no admin),
// as an operator would. SMS codes go to the dev sink file in that directory.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (web-tests/ is directly under it). */
export const REPO = path.resolve(here, "..", "..");

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the server; resolves once /readyz is green. */
export async function startServer() {
  const bin = process.env.SIMGATE_BIN;
  if (!bin || !existsSync(bin)) {
    throw new Error(`SIMGATE_BIN must name the built simgate binary (got ${bin || "nothing"})`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "simgate-web-"));
  const keysFile = path.join(dir, "data-keys");
  const smsSink = path.join(dir, "sms.jsonl");
  const env = {};
  // A clean SIMGATE__* environment: only what this harness sets.
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("SIMGATE")) env[name] = value;
  }
  Object.assign(env, {
    SIMGATE__DATABASE__URL: `sqlite://${path.join(dir, "simgate.db")}?mode=rwc`,
    SIMGATE__MODELS__DIR: path.join(REPO, "models", "dist"),
    SIMGATE__MODELS__ORT_DYLIB: path.join(REPO, "models", "dist", "libonnxruntime.so.1.31.0"),
    SIMGATE__SMS__DEV_SINK__PATH: smsSink,
    SIMGATE__LOGGING__FORMAT: "json",
  });
  // Every flow presents the one fixture passport for a new number, which the shipped
  // document_many_msisdns rule rightly sends to review from the third number on; the risk rules
  // are tested in services/api/tests/risk_monitoring.rs, so the browser's server runs without them.
  const configFile = path.join(dir, "simgate.toml");
  writeFileSync(configFile, "[risk]\nrules = []\n");
  env.SIMGATE_CONFIG = configFile;
  const run = (args) => execFileSync(bin, args, { env, cwd: dir, encoding: "utf8" });
  writeFileSync(keysFile, run(["keys", "generate-data-key", "--id", "dev-1"]), { mode: 0o600 });
  env.SIMGATE__ENCRYPTION__KEYS_FILE = keysFile;
  run(["migrate"]);
  run(["signing-key", "rotate", "--if-none"]);
  // The page's credential: a `kiosk` key runs only the sessions it opened. A second kiosk key
  // proves that one kiosk cannot read another's sessions.
  const kioskKey = (name) =>
    run(["api-key", "create", "--tenant", "t", "--name", name, "--scopes", "kiosk"]).trim().split(/\s+/).pop();
  const key = kioskKey("kiosk");
  const otherKey = kioskKey("kiosk-2");
  const port = await freePort();
  env.SIMGATE__SERVER__HOST = "127.0.0.1";
  env.SIMGATE__SERVER__PORT = String(port);
  const log = [];
  const child = spawn(bin, ["serve"], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (chunk) => log.push(chunk.toString()));
  child.stderr.on("data", (chunk) => log.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`simgate exited ${child.exitCode}:\n${log.join("")}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`simgate not ready within 60 s:\n${log.join("")}`);
    await sleep(200);
  }
  return {
    url,
    key,
    otherKey,
    dir,
    log,
    /** The latest SMS code sent to `msisdn` (waits for the outbox worker to deliver it). */
    async smsCode(msisdn, { after = 0, timeoutMs = 15_000 } = {}) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (existsSync(smsSink)) {
          const lines = readFileSync(smsSink, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
          const mine = lines.filter((line) => line.to === msisdn);
          if (mine.length > after) {
            const match = mine[mine.length - 1].text.match(/\b(\d{6,10})\b/);
            if (match) return { code: match[1], count: mine.length };
          }
        }
        if (Date.now() > until) throw new Error(`no SMS to ${msisdn} within ${timeoutMs} ms`);
        await sleep(200);
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
      if (!process.env.KEEP_TEMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// End-to-end test of the self-contained binary: a copy of `wisp` alone in an
// empty folder (no site folder beside it, `--site-dir` not given) serves the
// whole dashboard from the copy embedded at build time. A real Chromium
// signs in and sees the Functions page, hydrated (the wasm bundle loaded);
// the page links content-hashed assets, which answer with a year-long
// immutable cache lifetime and brotli to a browser that accepts it.
// Binary: WISP_RELEASE_BIN (scripts/release.sh's) if set, else WISP_BIN.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { assert, config, openPage, results, shoot, step, waitForHydration, finish, run } from "./helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE_BIN =
  process.env.WISP_RELEASE_BIN ??
  process.env.WISP_BIN ??
  join(process.env.CARGO_TARGET_DIR ?? resolve(here, "../target"), "debug/wisp");
const PASSWORD = `single-binary-${randomBytes(6).toString("hex")}`;
const pause = (ms) => new Promise((done) => setTimeout(done, ms));

async function main() {
  const cfg = config();
  const folder = mkdtempSync(join(tmpdir(), "wisp-alone-"));
  const log = join(folder, "server.log");
  let server;
  let exited = false;
  let browser;
  const shots = [];
  const logTail = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-30).join("\n") : "");
  try {
    let url;
    await step("the binary, copied alone into an empty folder, starts", async () => {
      const bin = join(folder, "wisp");
      copyFileSync(SOURCE_BIN, bin);
      chmodSync(bin, 0o755);
      assert(JSON.stringify(readdirSync(folder)) === JSON.stringify(["wisp"]), `folder: ${readdirSync(folder)}`);
      const env = { ...process.env, WISP_ADMIN_PASSWORD: PASSWORD };
      for (const name of ["WISP_DASHBOARD_DIR", "WISP_SITE_DIR", "WISP_E2E_SITE_DIR", "WISP_DATA_DIR"]) delete env[name];
      const fd = openSync(log, "w");
      server = spawn(bin, ["serve", "--data-dir", "data", "--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:0"], {
        cwd: folder,
        env,
        stdio: ["ignore", fd, fd],
      });
      server.on("exit", () => (exited = true));
      const addresses = join(folder, "data", "addresses.json");
      const deadline = Date.now() + 60_000;
      while (!(existsSync(addresses) && statSync(addresses).size > 0)) {
        assert(!exited, `wisp exited early\n${logTail()}`);
        assert(Date.now() < deadline, `wisp did not start within 60 s\n${logTail()}`);
        await pause(100);
      }
      url = `http://${JSON.parse(readFileSync(addresses, "utf8")).listen}`;
      assert(/dashboard assets: embedded/.test(readFileSync(log, "utf8")), `the log does not say the assets are embedded\n${logTail()}`);
    });

    const opened = await openPage(cfg);
    browser = opened.browser;
    const { page, pageErrors } = opened;

    await step("signing in lands on the Functions page, hydrated", async () => {
      await page.goto(`${url}/login?next=/functions`);
      await waitForHydration(page);
      await page.getByLabel("Username").fill("admin");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((u) => u.pathname === "/functions");
      await waitForHydration(page);
      await page.getByRole("heading", { name: "Functions", level: 1 }).waitFor();
      shots.push(await shoot(page, cfg, "single-binary-functions.png"));
    });

    await step("the page links content-hashed assets, cached for a year and sent compressed", async () => {
      const css = await page.locator("link[rel=stylesheet]").first().getAttribute("href");
      assert(/^\/pkg\/wisp\.[0-9a-f]{16}\.css$/.test(css), `stylesheet ${css}`);
      const script = await page.locator("link[rel=modulepreload]").first().getAttribute("href");
      assert(/^\/pkg\/wisp\.[0-9a-f]{16}\.js$/.test(script), `bundle ${script}`);
      const wasm = script.replace(/\.js$/, "_bg.wasm");
      for (const path of [css, script, wasm]) {
        const r = await fetch(`${url}${path}`, { headers: { "Accept-Encoding": "br, gzip" } });
        assert(r.status === 200, `${path}: ${r.status}`);
        assert(r.headers.get("cache-control") === "public, max-age=31536000, immutable", `${path}: ${r.headers.get("cache-control")}`);
        assert(r.headers.get("content-encoding") === "br", `${path}: content-encoding ${r.headers.get("content-encoding")}`);
      }
      const plain = await fetch(`${url}/pkg/wisp.css`, { headers: { "Accept-Encoding": "identity" } });
      assert(plain.status === 200 && plain.headers.get("cache-control") === "no-cache", "the plain name revalidates");
      assert(!plain.headers.get("content-encoding"), "identity asked, identity sent");
      const etag = plain.headers.get("etag");
      const again = await fetch(`${url}/pkg/wisp.css`, { headers: { "Accept-Encoding": "identity", "If-None-Match": etag } });
      assert(again.status === 304, `revalidation: ${again.status}`);
    });

    await step("no script errors in the browser", async () => {
      assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
    });
  } finally {
    await browser?.close().catch(() => {});
    if (results.failed) console.log(logTail());
    if (server && !exited) {
      const gone = new Promise((done) => server.once("exit", done));
      server.kill("SIGTERM");
      await Promise.race([gone, pause(10_000)]);
    }
    rmSync(folder, { recursive: true, force: true });
  }
  await finish(null, shots);
}

run(main);

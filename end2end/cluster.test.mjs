// End-to-end test of the Nodes page (cluster membership) in a real Chromium,
// on a cluster of its own (not the server run.sh starts): three `wisp serve`
// on one fresh PostgreSQL database; node 3 is killed (SIGKILL, no clean
// stop) and, once the API reports it down, the page on node 1 lists three
// members — node-1 and node-2 up, node-3 down — and counts 2 up, 1 down.
// Screenshots at 1280×800 and 390×844. The database is dropped and the
// nodes are killed at the end, also on failure.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  MOBILE,
  assert,
  assertNoHorizontalOverflow,
  config,
  openPage,
  results,
  shoot,
  step,
  waitForHydration,
  finish,
  run,
} from "./helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const WISP_BIN =
  process.env.WISP_BIN ?? join(process.env.CARGO_TARGET_DIR ?? resolve(here, "../target"), "debug/wisp");
const ADMIN_URL = process.env.WISP_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
const DATABASE = `wisp_e2e_cluster_${randomBytes(6).toString("hex")}`;
const DATABASE_URL = ADMIN_URL.replace(/\/[^/?]*(?=\?|$)/, `/${DATABASE}`);
const SECRET_KEY = "5f2b8c1d9e4a7b3c6d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";
const PASSWORD = `cluster-e2e-${randomBytes(6).toString("hex")}`;

const pause = (ms) => new Promise((done) => setTimeout(done, ms));
const psql = (sql) =>
  execFileSync("psql", [ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], { encoding: "utf8" });

/// Starts `wisp serve` as node-`n` in a data dir of its own (output in its server.log).
function startNode(n) {
  const dataDir = mkdtempSync(join(tmpdir(), `wisp-e2e-cluster-${n}-`));
  const log = join(dataDir, "server.log");
  const args = ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:0",
    "--database-url", DATABASE_URL, "--node-id", `node-${n}`, "--secret-key", SECRET_KEY];
  if (process.env.WISP_E2E_SITE_DIR) args.push("--site-dir", process.env.WISP_E2E_SITE_DIR);
  if (process.env.WISP_TEST_CACHE_DIR) args.push("--cache-dir", process.env.WISP_TEST_CACHE_DIR);
  const fd = openSync(log, "w");
  const child = spawn(WISP_BIN, args, {
    env: { ...process.env, WISP_ADMIN_PASSWORD: PASSWORD },
    stdio: ["ignore", fd, fd],
  });
  const node = { id: `node-${n}`, dataDir, log, child, exited: false };
  child.on("exit", () => (node.exited = true));
  child.on("error", (err) => ((node.exited = true), (node.error = err)));
  return node;
}

/// Waits for the node's addresses.json; answers its control-plane URL.
async function addressesOf(node) {
  const path = join(node.dataDir, "addresses.json");
  const deadline = Date.now() + 60_000;
  while (!(existsSync(path) && statSync(path).size > 0)) {
    assert(!node.exited, `${node.id} exited early (${node.error ?? "see below"})\n${tail(node)}`);
    assert(Date.now() < deadline, `${node.id} did not start within 60 s\n${tail(node)}`);
    await pause(100);
  }
  const { listen, gateway } = JSON.parse(readFileSync(path, "utf8"));
  node.url = `http://${listen}`;
  node.gateway = `http://${gateway}`;
  return node.url;
}

function tail(node, lines = 40) {
  try {
    const text = readFileSync(node.log, "utf8").split("\n").slice(-lines).join("\n");
    return `---- ${node.id} log (last ${lines} lines) ----\n${text}`;
  } catch {
    return "";
  }
}

/// Polls `GET /api/v1/nodes` until `ready(body)` holds; answers the last body.
async function pollNodes(url, token, ready, seconds, what) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const r = await fetch(`${url}/api/v1/nodes`, { headers: { Authorization: `Bearer ${token}` } });
    const text = await r.text();
    if (r.status === 200 && ready(JSON.parse(text))) return JSON.parse(text);
    assert(Date.now() < deadline, `${what} within ${seconds} s: ${r.status} ${text}`);
    await pause(500);
  }
}

const stateOf = (body, id) => body.nodes.find((n) => n.id === id)?.state;

async function main() {
  const cfg = config();
  psql(`CREATE DATABASE ${DATABASE}`);
  const nodes = [];
  const shots = [];
  let browser;
  try {
    const opened = await openPage(cfg);
    browser = opened.browser;
    const { page, pageErrors } = opened;
    let url;
    let token;

    await step("node 1 starts on a fresh PostgreSQL database (migrates it, makes the admin)", async () => {
      nodes.push(startNode(1));
      url = await addressesOf(nodes[0]);
      token = readFileSync(join(nodes[0].dataDir, "admin-token"), "utf8").trim();
      assert(token.length > 0, "node 1 wrote an empty admin-token");
    });

    await step("nodes 2 and 3 join; all three report up", async () => {
      nodes.push(startNode(2), startNode(3));
      await Promise.all(nodes.slice(1).map(addressesOf));
      const allUp = (b) => ["node-1", "node-2", "node-3"].every((id) => stateOf(b, id) === "up");
      const body = await pollNodes(url, token, allUp, 30, "the three nodes were not all up");
      assert(body.nodes.find((n) => n.id === "node-1").this_node === true, "node-1 is not this_node on node 1");
    });

    await step("node 3, killed without a clean stop, is reported down", async () => {
      nodes[2].child.kill("SIGKILL");
      const body = await pollNodes(url, token, (b) => stateOf(b, "node-3") === "down", 30, "node-3 not down");
      const others = [stateOf(body, "node-1"), stateOf(body, "node-2")];
      assert(others.every((s) => s === "up"), `nodes 1 and 2: ${JSON.stringify(body)}`);
    });

    await step("signing in on node 1", async () => {
      await page.goto(`${url}/login?next=/nodes`);
      await waitForHydration(page);
      await page.getByLabel("Username").fill("admin");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((u) => u.pathname === "/nodes");
    });

    await step("the Nodes page lists node-1 and node-2 up, node-3 down, and counts them", async () => {
      await page.goto(`${url}/nodes`);
      await waitForHydration(page);
      await page.locator("table.nodes tr[data-node='node-3'][data-state='down']").waitFor();
      assert((await page.locator("table.nodes tr[data-node]").count()) === 3, "not three rows in the nodes table");
      const up = await page.locator("table.nodes tr[data-node][data-state='up']").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-node")).sort(),
      );
      assert(JSON.stringify(up) === JSON.stringify(["node-1", "node-2"]), `up rows: ${up}`);
      const first = await page.locator("tr[data-node='node-1']").innerText();
      assert(/this node/.test(first), `node-1 is not marked as this node: ${first}`);
      const upCount = (await page.locator("[data-testid=nodes-up]").innerText()).trim();
      const downCount = (await page.locator("[data-testid=nodes-down]").innerText()).trim();
      assert(upCount === "2", `up: ${upCount}`);
      assert(downCount === "1", `down: ${downCount}`);
      shots.push(await shoot(page, cfg, "nodes.png"));
    });

    await step("the Nodes page fits a phone screen", async () => {
      await page.setViewportSize(MOBILE);
      await page.goto(`${url}/nodes`);
      await waitForHydration(page);
      await page.locator("table.nodes tr[data-node='node-3'][data-state='down']").waitFor();
      await assertNoHorizontalOverflow(page, "the nodes page at 390px");
      shots.push(await shoot(page, cfg, "nodes-mobile.png"));
    });

    await step("no script errors in the browser", async () => {
      assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
    });
  } finally {
    await browser?.close().catch(() => {});
    if (results.failed) for (const node of nodes) console.log(tail(node));
    await Promise.all(
      nodes.map((node) => {
        if (node.exited) return undefined;
        const gone = new Promise((done) => node.child.once("exit", done));
        node.child.kill("SIGKILL");
        return Promise.race([gone, pause(5000)]);
      }),
    );
    try {
      psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    } catch (err) {
      console.error(`end2end: dropping ${DATABASE}: ${err}`);
    }
    for (const node of nodes) rmSync(node.dataDir, { recursive: true, force: true });
  }

  await finish(null, shots);
}

run(main);

// End-to-end test of applications as code in the dashboard, against the
// running `wisp serve` (run.sh): two applications are applied with the real
// CLI (`wisp apply` of two manifests, with an API token made through the
// API), called through the gateway, then the Topology and Costs pages are
// filtered to one of them, the Functions list groups by application, and
// the application's own page shows its functions, triggers and cost.
// Screenshots at 1280×800 and 390×844.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  MOBILE,
  DESKTOP,
  apiIn,
  assert,
  assertNoHorizontalOverflow,
  config,
  finish,
  openPage,
  run,
  shoot,
  step,
  waitForHydration,
} from "./helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const WISP_BIN =
  process.env.WISP_BIN ?? join(process.env.CARGO_TARGET_DIR ?? resolve(here, "../target"), "debug/wisp");
const pause = (ms) => new Promise((done) => setTimeout(done, ms));

/// A project folder with `wisp.toml` for `app` and a copy of hello.wasm.
function project(root, app, functions, cfg) {
  const dir = join(root, app);
  mkdirSync(dir, { recursive: true });
  copyFileSync(cfg.helloWasm, join(dir, "hello.wasm"));
  const lines = [`application = "${app}"`, ""];
  for (const name of functions) {
    lines.push(`[functions.${name}]`, `wasm = "hello.wasm"`, "");
  }
  lines.push("[[triggers]]", `kind = "http"`, `function = "${functions[0]}"`, `route = "/${app}-e2e"`, "");
  writeFileSync(join(dir, "wisp.toml"), lines.join("\n"));
  return join(dir, "wisp.toml");
}

async function main() {
  const cfg = config();
  const { browser, page, pageErrors } = await openPage(cfg);
  const api = apiIn(page);
  const shots = [];
  const root = mkdtempSync(join(tmpdir(), "wisp-e2e-apps-"));
  const shop = ["shop-e2e-cart", "shop-e2e-pay"];
  const blog = ["blog-e2e-posts"];

  await step("two applications are applied with wisp apply", async () => {
    await page.goto(`${cfg.url}/login`);
    await waitForHydration(page);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/");
    const made = await api("/api/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "e2e-apply", role: "developer" }),
    });
    assert(made.status === 201, `token: ${made.status} ${made.text}`);
    const token = JSON.parse(made.text).token;
    for (const [app, functions] of [["shop-e2e", shop], ["blog-e2e", blog]]) {
      const out = execFileSync(WISP_BIN, ["apply", "-f", project(root, app, functions, cfg)], {
        env: { ...process.env, WISP_URL: cfg.url, WISP_TOKEN: token },
        encoding: "utf8",
      });
      assert(out.includes("applied:"), `wisp apply ${app}: ${out}`);
    }
    for (const [name, calls] of [[shop[0], 3], [shop[1], 2], [blog[0], 4]]) {
      for (let i = 0; i < calls; i++) {
        const r = await fetch(`${cfg.gateway}/fn/${name}/`);
        assert(r.status === 200, `${name}: ${r.status}`);
      }
    }
  });

  await step("the Costs page filtered to one application shows only its functions", async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.goto(`${cfg.url}/costs?application=shop-e2e`);
      await waitForHydration(page);
      const text = await page.locator("main").innerText();
      if (text.includes(shop[0]) && text.includes(shop[1])) break;
      assert(Date.now() < deadline, `the costs of shop-e2e never showed both functions:\n${text}`);
      await pause(500);
    }
    await page.getByRole("heading", { name: "Costs · shop-e2e", level: 1 }).waitFor();
    const text = await page.locator("main").innerText();
    assert(!text.includes(blog[0]), "another application's function is on the filtered Costs page");
    assert(await page.getByRole("link", { name: "Show all applications" }).isVisible(), "no way back to all applications");
    const csv = await page.getByRole("link", { name: "Download CSV" }).getAttribute("href");
    assert(csv.includes("application=shop-e2e"), `the CSV link is not filtered: ${csv}`);
    shots.push(await shoot(page, cfg, "costs-application.png"));
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "costs (application) on a phone");
    shots.push(await shoot(page, cfg, "costs-application-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("the Topology page filtered to one application draws only its functions", async () => {
    await page.goto(`${cfg.url}/topology?application=shop-e2e`);
    await waitForHydration(page);
    await page.locator("svg.topology").waitFor();
    const labels = await page.locator("svg.topology g.node").evaluateAll((nodes) =>
      nodes.map((n) => n.getAttribute("data-label") ?? n.textContent),
    );
    const all = labels.join(" ");
    for (const name of shop) assert(all.includes(name), `${name} is not in the graph: ${all}`);
    assert(!all.includes(blog[0]), `another application's function is in the graph: ${all}`);
    const picker = page.getByRole("navigation", { name: "Application" });
    assert(
      (await picker.getByRole("link", { name: "shop-e2e" }).getAttribute("aria-current")) === "page",
      "the application picker does not mark shop-e2e",
    );
    shots.push(await shoot(page, cfg, "topology-application.png"));
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    await page.locator("svg.topology").waitFor();
    await assertNoHorizontalOverflow(page, "topology (application) on a phone");
    shots.push(await shoot(page, cfg, "topology-application-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("the Functions list groups functions by application", async () => {
    await page.goto(`${cfg.url}/functions`);
    await waitForHydration(page);
    const group = page.locator('tr.group-row[data-application="shop-e2e"]');
    await group.waitFor();
    const rows = await page.locator("table.function-table tbody tr").evaluateAll((trs) =>
      trs.map((tr) => tr.getAttribute("data-application") ?? tr.getAttribute("data-function")),
    );
    const at = rows.indexOf("shop-e2e");
    assert(rows.slice(at + 1, at + 3).sort().join() === [...shop].sort().join(), `shop-e2e's rows: ${rows}`);
  });

  await step("the application page shows its functions, triggers and cost", async () => {
    await page.locator('tr.group-row[data-application="shop-e2e"] a.group-name').click();
    await page.waitForURL((url) => url.pathname === "/applications/shop-e2e");
    await page.getByRole("heading", { name: "Application shop-e2e", level: 1 }).waitFor();
    await waitForHydration(page);
    const text = await page.locator("main").innerText();
    for (const name of shop) assert(text.includes(name), `${name} is not on the application page`);
    assert(text.includes("/shop-e2e-e2e"), "the route trigger is not listed");
    assert(!text.includes(blog[0]), "another application's function is on the page");
    shots.push(await shoot(page, cfg, "application.png"));
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "application page on a phone");
    shots.push(await shoot(page, cfg, "application-mobile.png"));
  });

  await step("no script errors", async () => {
    assert(pageErrors.length === 0, `script errors: ${pageErrors.join("\n")}`);
  });
  rmSync(root, { recursive: true, force: true });
  await finish(browser, shots);
}

run(main);

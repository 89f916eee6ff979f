// End-to-end test of replay in a real Chromium against a running `wisp
// serve`: a call of replay-demo fails (odd input); a fixed version is
// uploaded; from the failed invocation's page the call is replayed on the
// fixed version and the diff shows what changed (status 500 → 200, the
// failure line gone from the logs); the function page replays its latest
// failures on the live version and reports them fixed.
// Screenshots at 1280×800 and 390×844.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  apiIn,
  MOBILE,
  DESKTOP,
  assert,
  assertNoHorizontalOverflow,
  config,
  openPage,
  shoot,
  step,
  waitForHydration,
  finish,
  run,
} from "./helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const functionsDir = process.env.WISP_FUNCTIONS_DIR ?? resolve(here, "../functions");
const buggy = join(functionsDir, "replay-demo.wasm");
const fixed = join(functionsDir, "replay-demo-fixed.wasm");

async function main() {
  const cfg = config();
  for (const file of [buggy, fixed]) assert(existsSync(file), `${file} is missing: run functions/build.sh`);
  const { browser, page, pageErrors } = await openPage(cfg);
  const shots = [];
  const api = apiIn(page);
  let failedId = "";

  const upload = async (name, file) => {
    const r = await api(`/api/v1/functions/${name}/versions`, {
      method: "POST",
      headers: { "Content-Type": "application/wasm" },
      bytes: [...readFileSync(file)],
    });
    assert(r.status === 201, `deploying ${name}: ${r.status} ${r.text}`);
  };

  await step("signing in", async () => {
    await page.goto(`${cfg.url}/login?next=/functions`);
    await waitForHydration(page);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/functions");
  });

  await step("a call of replay-demo fails and is recorded (capture = failures, the default)", async () => {
    // Its "outside server" is another function, reached in-process.
    await upload("quote-source", cfg.helloWasm);
    await upload("replay-demo", buggy);
    const r = await api("/api/v1/functions/replay-demo", {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ env: { UPSTREAM: "http://quote-source.fn.wisp" } }),
    });
    assert(r.status === 200, `configuring: ${r.status} ${r.text}`);
    const call = await fetch(`${cfg.gateway}/fn/replay-demo/quote?n=3`);
    assert(call.status === 500, `the odd input should fail: ${call.status}`);
    failedId = call.headers.get("x-wisp-invocation-id");
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = await api(`/api/v1/invocations/${failedId}/capture`);
      if (c.status === 200) break;
      assert(Date.now() < deadline, `never captured: ${c.status} ${c.text}`);
      await new Promise((done) => setTimeout(done, 200));
    }
    await upload("replay-demo", fixed);
  });

  await step("the failed invocation replays on the fixed version and the diff shows what changed", async () => {
    await page.goto(`${cfg.url}/invocations/${failedId}`);
    await waitForHydration(page);
    const card = page.locator("section#replay");
    await card.getByRole("button", { name: "Replay" }).waitFor();
    await card.getByLabel("Version").selectOption("2");
    await card.getByRole("button", { name: "Replay" }).click();
    const result = card.locator(".replay-result");
    await result.waitFor();
    const text = await result.innerText();
    assert(/differs from the original/.test(text), text);
    assert(/500\s*→\s*200/.test(text), `status change not shown: ${text}`);
    const removed = result.locator(".diff-removed", { hasText: "odd input 3" });
    assert((await removed.count()) === 1, "the failure line is not shown removed from the logs");
    assert((await result.locator(".replay-divergences").count()) === 0, "no divergence expected");
    shots.push(await shoot(page, cfg, "replay.png"));
  });

  await step("the replay fits a phone screen", async () => {
    await page.setViewportSize(MOBILE);
    const card = page.locator("section#replay");
    await card.locator(".replay-result").waitFor();
    await assertNoHorizontalOverflow(page, "the invocation page with a replay at 390px");
    shots.push(await shoot(page, cfg, "replay-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("the function page replays its latest failures on the live version: fixed", async () => {
    await page.goto(`${cfg.url}/functions/replay-demo`);
    await waitForHydration(page);
    const panel = page.locator("section[aria-labelledby='replay-failures-title']");
    await panel.getByRole("button", { name: "Replay failures" }).click();
    const table = panel.locator("table.replay-table");
    await table.waitFor();
    const row = table.locator("tbody tr").first();
    assert(/fixed/.test(await row.innerText()), await row.innerText());
    assert(/1 fixed/.test(await panel.locator(".replay-summary").innerText()), "summary");
    await panel.scrollIntoViewIfNeeded();
    shots.push(await shoot(page, cfg, "replay-failures.png"));
  });

  await step("no script errors in the browser", async () => {
    assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
  });

  await finish(browser, shots);
}

run(main);

// End-to-end test of the debugging views against a running `wisp serve` in a
// real Chromium: a request crossing three functions (HTTP → a → b → topic →
// c, which fails twice before a retry succeeds) is followed from the
// functions list to its trace waterfall in one click; the waterfall shows
// the failing attempts; the trace's path is highlighted on the topology;
// and the live tail shows a running call's first line before the call ends;
// a trap of a function built with debug info is grouped on the Errors page
// and its invocation page shows frames with file:line.
// Screenshots at 1280×800 and 390×844.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  apiIn,
  MOBILE,
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
const relayWasm = join(functionsDir, "relay.wasm");
const trapDebugWasm = join(functionsDir, "trap-debug.wasm");
const TRACE_ID = "5e1f0c2a9b7d4e6f8a0b1c2d3e4f5a6b";

async function main() {
  const cfg = config();
  assert(existsSync(relayWasm), `${relayWasm} is missing: run functions/build.sh`);
  const { browser, page, pageErrors } = await openPage(cfg);
  const shots = [];
  const api = apiIn(page);

  await step("signing in", async () => {
    await page.goto(`${cfg.url}/login?next=/functions`);
    await waitForHydration(page);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/functions");
  });

  await step("deploying a chain: a calls b, b publishes to orders, c (subscribed) fails twice", async () => {
    const bytes = [...readFileSync(relayWasm)];
    const env = {
      "trace-a": { STEPS: "GET http://trace-b.fn.wisp/from-a" },
      "trace-b": { STEPS: "POST http://events.wisp/trace-orders {body}" },
      "trace-c": { FAIL_FIRST: "2" },
      "tail-slow": { SLEEP_MS: "2500", LOG_LINE: '{"level":"warn","msg":"warming up"}' },
    };
    for (const [name, vars] of Object.entries(env)) {
      let r = await api(`/api/v1/functions/${name}/versions`, {
        method: "POST",
        headers: { "Content-Type": "application/wasm" },
        bytes,
      });
      assert(r.status === 201, `deploying ${name}: ${r.status} ${r.text}`);
      r = await api(`/api/v1/functions/${name}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ env: vars }),
      });
      assert(r.status === 200, `configuring ${name}: ${r.status} ${r.text}`);
    }
    const r = await api("/api/v1/triggers", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "topic", function: "trace-c", topic: "trace-orders", max_attempts: 5 }),
    });
    assert(r.status === 201, `subscribing trace-c: ${r.status} ${r.text}`);
  });

  await step("a call with a traceparent runs through the chain (c succeeds on its third attempt)", async () => {
    const r = await fetch(`${cfg.gateway}/fn/trace-a/`, {
      method: "POST",
      headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
      body: "order-1",
    });
    assert(r.status === 200, `calling trace-a: ${r.status}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const t = await api(`/api/v1/traces/${TRACE_ID}`);
      if (t.status === 200 && JSON.parse(t.text).spans.some((s) => s.attempt === 3)) break;
      assert(Date.now() < deadline, `the trace never completed: ${t.status} ${t.text}`);
      await new Promise((done) => setTimeout(done, 250));
    }
  });

  await step("from the failing function in the list, its trace is one click away", async () => {
    await page.goto(`${cfg.url}/functions`);
    await waitForHydration(page);
    const failures = page.locator("tr[data-function='trace-c'] a.error-rate");
    await failures.waitFor();
    await failures.click();
    await page.waitForURL((url) => url.pathname === `/traces/${TRACE_ID}`);
    await waitForHydration(page);
    await page.locator(".waterfall .span").nth(4).waitFor();
    assert((await page.locator(".waterfall > .span").count()) === 5, "not five invocations in the waterfall");
    assert((await page.locator(".waterfall > .span-failed").count()) === 2, "the two failed attempts are not marked");
    const names = await page.locator(".waterfall > .span .span-name strong").allInnerTexts();
    assert(
      JSON.stringify(names) === JSON.stringify(["trace-a", "trace-b", "trace-c", "trace-c", "trace-c"]),
      `order: ${names}`,
    );
    const failed = page.locator(".waterfall > .span-failed").first();
    assert(/trap/i.test(await failed.innerText()), await failed.innerText());
    shots.push(await shoot(page, cfg, "trace.png"));
  });

  await step("a bar opens its invocation, which links back to the trace", async () => {
    await page.locator(".waterfall > .span-failed a.span-link").first().click();
    await page.waitForURL((url) => url.pathname.startsWith("/invocations/"));
    await waitForHydration(page);
    await page.getByRole("heading", { name: "Calls it caused" }).waitFor();
    const attempt = page.locator("dt", { hasText: "Attempt" });
    await attempt.waitFor();
    await page.getByRole("link", { name: "View trace" }).click();
    await page.waitForURL((url) => url.pathname === `/traces/${TRACE_ID}`);
  });

  await step("the trace's path is highlighted on the topology", async () => {
    await page.getByRole("link", { name: "Show on the topology" }).click();
    await page.waitForURL((url) => url.pathname === "/topology" && url.search.includes(TRACE_ID));
    await waitForHydration(page);
    await page.locator(".trace-banner").waitFor();
    await page.locator("svg.topology g.node.on-trace").first().waitFor();
    const on = await page.locator("svg.topology g.node.on-trace").evaluateAll((els) =>
      els.map((e) => e.getAttribute("data-id")).sort(),
    );
    for (const id of ["fn:trace-a", "fn:trace-b", "fn:trace-c", "topic:trace-orders"]) {
      assert(on.includes(id), `${id} not highlighted: ${on}`);
    }
    assert(!on.includes("fn:tail-slow"), `a function off the trace is highlighted: ${on}`);
    shots.push(await shoot(page, cfg, "topology-trace.png"));
  });

  await step("the live tail shows a running call's first line before the call ends", async () => {
    await page.goto(`${cfg.url}/functions/tail-slow`);
    await waitForHydration(page);
    await page.locator(".tail-status.live").waitFor();
    let finished = false;
    const call = fetch(`${cfg.gateway}/fn/tail-slow/live`, { method: "POST", body: "x" }).then(async (r) => {
      await r.text();
      finished = true;
      return r.status;
    });
    const running = page.locator(".tail-line-running", { hasText: "relay: POST /live" });
    await running.waitFor();
    assert(!finished, "the call ended before its first line showed");
    assert(/warn/i.test(await running.locator(".log-level").first().innerText()), "the JSON line's level is not shown");
    shots.push(await shoot(page, cfg, "live-tail-running.png"));
    assert((await call) === 200, "the slow call failed");
    await page.locator(".tail-line:not(.tail-line-running)", { hasText: "relay: slept 2500 ms" }).waitFor();
    assert((await page.locator(".tail-line-running").count()) === 0, "the finished call still shows as running");
  });

  await step("a trap with debug info: grouped on the Errors page, its frames with file:line", async () => {
    assert(existsSync(trapDebugWasm), `${trapDebugWasm} is missing: run functions/build.sh`);
    const r = await api("/api/v1/functions/checkout/versions", {
      method: "POST",
      headers: { "Content-Type": "application/wasm" },
      bytes: [...readFileSync(trapDebugWasm)],
    });
    assert(r.status === 201, `deploying checkout: ${r.status} ${r.text}`);
    for (const path of ["order/1", "order/2"]) {
      const call = await fetch(`${cfg.gateway}/fn/checkout/${path}`, { method: "POST" });
      assert(call.status === 502, `calling checkout: ${call.status}`);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const e = await api("/api/v1/errors?function=checkout");
      if (e.status === 200 && JSON.parse(e.text).groups.some((g) => g.count === 2)) break;
      assert(Date.now() < deadline, `the error group never reached 2: ${e.status} ${e.text}`);
      await new Promise((done) => setTimeout(done, 250));
    }
    await page.goto(`${cfg.url}/errors`);
    await waitForHydration(page);
    const row = page.locator("table.error-groups tr[data-function='checkout']");
    await row.waitFor();
    assert(/Trap/.test(await row.innerText()), await row.innerText());
    assert(/\b2\b/.test(await row.locator("td.num").innerText()), "the group does not count two failures");
    shots.push(await shoot(page, cfg, "errors.png"));
    await row.getByRole("link", { name: "Latest failure" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/invocations/"));
    await waitForHydration(page);
    const located = page.locator(".backtrace .frame-located", { hasText: "validate_order" });
    await located.first().waitFor();
    const where = await located.first().locator(".frame-location").first().innerText();
    assert(/src\/main\.rs:\d+/.test(where), `no file:line: ${where}`);
    shots.push(await shoot(page, cfg, "backtrace.png"));
  });

  await step("the trace page fits a phone screen", async () => {
    await page.setViewportSize(MOBILE);
    await page.goto(`${cfg.url}/traces/${TRACE_ID}`);
    await waitForHydration(page);
    await page.locator(".waterfall .span").first().waitFor();
    await assertNoHorizontalOverflow(page, "the trace page at 390px");
    shots.push(await shoot(page, cfg, "trace-mobile.png"));
    await page.goto(`${cfg.url}/errors`);
    await waitForHydration(page);
    await page.locator("table.error-groups tr[data-function='checkout']").waitFor();
    await assertNoHorizontalOverflow(page, "the errors page at 390px");
    shots.push(await shoot(page, cfg, "errors-mobile.png"));
  });

  await step("no script errors in the browser", async () => {
    assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
  });

  await finish(browser, shots);
}

run(main);

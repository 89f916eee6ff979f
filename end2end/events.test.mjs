// End-to-end test of the event pages against a running `wisp serve` in a real
// Chromium: triggers (create an HTTP route, a cron schedule with its live
// preview and a rejected schedule, a topic subscription; delete), the
// topology graph (nodes drawn, search highlight, click through to a
// function), and the events page (key-value store set/delete, dead letters).
// Screenshots of each page at 1280×800 and 390×844.

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

async function main() {
  const cfg = config();
  assert(existsSync(relayWasm), `${relayWasm} is missing: run functions/build.sh`);
  const { browser, page, pageErrors } = await openPage(cfg);
  const shots = [];
  const api = apiIn(page);

  await step("signing in", async () => {
    await page.goto(`${cfg.url}/login?next=/triggers`);
    await waitForHydration(page);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/triggers");
  });

  await step("deploying a small application (shop publishes to orders; mailer writes kv)", async () => {
    const bytes = [...readFileSync(relayWasm)];
    for (const name of ["shop", "mailer"]) {
      const r = await api(`/api/v1/functions/${name}/versions`, {
        method: "POST",
        headers: { "Content-Type": "application/wasm" },
        bytes,
      });
      assert(r.status === 201, `deploying ${name}: ${r.status} ${r.text}`);
    }
    const env = {
      shop: { STEPS: "GET http://mailer.fn.wisp/receipt;POST http://events.wisp/orders {body}" },
      mailer: { STEPS: "PUT http://kv.wisp/sent/{ce-id} {body}" },
    };
    for (const [name, vars] of Object.entries(env)) {
      const r = await api(`/api/v1/functions/${name}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ env: vars }),
      });
      assert(r.status === 200, `configuring ${name}: ${r.status} ${r.text}`);
    }
    await page.reload();
    await waitForHydration(page);
  });

  const form = () => page.locator("#new-trigger");

  await step("creating an HTTP route from the form", async () => {
    await form().getByLabel("Kind").selectOption("http");
    await form().getByLabel("Function").selectOption("shop");
    await form().getByLabel("Route").fill("/shop/:item");
    await form().getByLabel("Methods").fill("POST");
    await form().getByRole("button", { name: "Create trigger" }).click();
    await page.getByText("Saved http trigger for shop").waitFor();
    await page.locator("tbody tr", { hasText: "POST /shop/:item" }).waitFor();
  });

  await step("a cron schedule previews its next fire times as you type; a bad one says why", async () => {
    await form().getByLabel("Kind").selectOption("cron");
    await form().getByLabel("Function").selectOption("mailer");
    await form().getByLabel("Schedule").fill("* * *");
    await page.locator(".cron-preview .field-error").waitFor();
    const why = await page.locator(".cron-preview .field-error").innerText();
    assert(/fields/.test(why), `unhelpful error: ${why}`);
    await form().getByLabel("Schedule").fill("0 9 * * *");
    await form().getByLabel("Time zone").fill("Europe/Paris");
    await page.locator(".fire-times li").nth(4).waitFor();
    assert((await page.locator(".fire-times li").count()) === 5, "not five fire times");
    // The preview of "0 9 * * *" in UTC is already shown when the time zone
    // is typed: wait for the one in Paris time to replace it (a preview
    // that stays on UTC still fails below).
    await page
      .waitForFunction(
        () => /T0[78]:00:00/.test(document.querySelector(".fire-times time")?.getAttribute("datetime") ?? ""),
        null,
        { timeout: 10_000 },
      )
      .catch(() => {});
    const first = await page.locator(".fire-times time").first().getAttribute("datetime");
    assert(/T0[78]:00:00/.test(first), `09:00 Paris should be 07:00 or 08:00 UTC, got ${first}`);
    await form().getByRole("button", { name: "Create trigger" }).click();
    await page.getByText("Saved cron trigger for mailer").waitFor();
    await page.locator("tbody tr", { hasText: "0 9 * * * (Europe/Paris)" }).waitFor();
  });

  await step("editing the cron trigger changes its schedule in place", async () => {
    await page.getByRole("button", { name: "Edit trigger 0 9 * * * (Europe/Paris)" }).click();
    await page.getByRole("heading", { name: "Edit trigger" }).waitFor();
    assert((await form().getByLabel("Schedule").inputValue()) === "0 9 * * *", "the form was not filled");
    await form().getByLabel("Schedule").fill("30 8 * * *");
    await form().getByRole("button", { name: "Save changes" }).click();
    await page.locator("tbody tr", { hasText: "30 8 * * * (Europe/Paris)" }).waitFor();
    await page.getByRole("heading", { name: "New trigger" }).waitFor();
    assert((await page.locator("tbody tr", { hasText: "0 9 * * *" }).count()) === 0, "the old schedule is still listed");
  });

  await step("subscribing mailer to the orders topic; a conflicting route is refused in place", async () => {
    await form().getByLabel("Kind").selectOption("topic");
    await form().getByLabel("Function").selectOption("mailer");
    await form().getByLabel("Topic").fill("orders");
    await form().getByRole("button", { name: "Create trigger" }).click();
    await page.getByText("Saved topic trigger for mailer").waitFor();
    await form().getByLabel("Kind").selectOption("http");
    await form().getByLabel("Function").selectOption("mailer");
    await form().getByLabel("Route").fill("/shop/:other");
    await form().getByLabel("Methods").fill("");
    await form().getByRole("button", { name: "Create trigger" }).click();
    const alert = page.locator("#new-trigger .alert-error");
    await alert.waitFor();
    assert(/conflicts/.test(await alert.innerText()), `no conflict message: ${await alert.innerText()}`);
    await assertNoHorizontalOverflow(page, "triggers page");
    shots.push(await shoot(page, cfg, "triggers.png"));
  });

  await step("traffic through the route reaches shop, mailer and the topic", async () => {
    for (let i = 0; i < 4; i += 1) {
      const r = await fetch(`${cfg.gateway}/shop/item-${i}`, { method: "POST", body: `order ${i}` });
      assert(r.status === 200, `route answered ${r.status}`);
    }
    // Wait until the topic deliveries wrote their kv entries.
    for (let tries = 0; tries < 100; tries += 1) {
      const r = await api("/api/v1/kv?prefix=sent/");
      if (JSON.parse(r.text).length >= 4) return;
      await new Promise((done) => setTimeout(done, 100));
    }
    throw new Error("topic deliveries never arrived");
  });

  await step("the topology page draws the application and links functions", async () => {
    // Calls and their outbound edges are stored in batches (the recorder
    // lets up to 50 ms of records gather): wait until the API's graph has
    // mailer's kv edge, then open the page.
    for (let i = 0; ; i++) {
      const r = await api("/api/v1/topology");
      if (JSON.parse(r.text).nodes.some((n) => n.id === "kv:default")) break;
      if (i >= 50) throw new Error(`kv:default never appeared in /api/v1/topology: ${r.text.slice(0, 300)}`);
      await new Promise((done) => setTimeout(done, 100));
    }
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Topology" }).click();
    await page.waitForURL((url) => url.pathname === "/topology");
    await page.locator("svg.topology g.node").first().waitFor();
    const ids = await page.locator("svg.topology g.node").evaluateAll((els) => els.map((e) => e.dataset.id));
    for (const id of ["fn:shop", "fn:mailer", "topic:orders", "kv:default"]) {
      assert(ids.includes(id), `node ${id} missing from ${ids.join(", ")}`);
    }
    assert(ids.some((id) => id.startsWith("route:")) && ids.some((id) => id.startsWith("cron:")), `trigger nodes missing: ${ids}`);
    const edges = await page.locator("svg.topology path.edge").count();
    assert(edges >= 6, `only ${edges} edges drawn`);
    assert((await page.locator("svg.topology path.edge.unused").count()) >= 1, "the idle cron edge is not dashed");
    await waitForHydration(page);
    await page.getByLabel("Find a node").fill("mailer");
    await page.locator("svg.topology g.node.match[data-id='fn:mailer']").waitFor();
    await assertNoHorizontalOverflow(page, "topology page");
    shots.push(await shoot(page, cfg, "topology.png"));
    await page.locator("svg.topology a[aria-label='Function shop']").click();
    await page.waitForURL((url) => url.pathname === "/functions/shop");
    // The function page lists its triggers.
    await page.locator(".trigger-list li", { hasText: "POST /shop/:item" }).waitFor();
  });

  await step("the events page edits the key-value store and lists dead letters", async () => {
    await page.goto(`${cfg.url}/events`);
    await waitForHydration(page);
    await page.getByText("No dead letters").waitFor();
    await page.locator("tbody tr", { hasText: "sent/" }).first().waitFor();
    await page.getByLabel("Key", { exact: true }).fill("greeting");
    await page.getByLabel("Value", { exact: true }).fill("hello from the dashboard");
    await page.getByRole("button", { name: "Set key" }).click();
    await page.locator("tbody tr", { hasText: "hello from the dashboard" }).waitFor();
    const r = await api("/api/v1/kv/default/greeting");
    assert(r.text === "hello from the dashboard", `API sees ${r.text}`);
    await assertNoHorizontalOverflow(page, "events page");
    shots.push(await shoot(page, cfg, "events.png"));
    await page.getByRole("button", { name: "Delete key greeting" }).click();
    await page.locator("tbody tr", { hasText: "hello from the dashboard" }).waitFor({ state: "detached" });
  });

  await step("deleting a trigger removes its route", async () => {
    await page.goto(`${cfg.url}/triggers`);
    await waitForHydration(page);
    await page.getByRole("button", { name: "Delete trigger POST /shop/:item" }).click();
    await page.locator("tbody tr", { hasText: "POST /shop/:item" }).waitFor({ state: "detached" });
    const r = await fetch(`${cfg.gateway}/shop/item-9`, { method: "POST" });
    assert(r.status === 404, `deleted route still answers ${r.status}`);
  });

  await step("the event pages fit a phone screen", async () => {
    await page.setViewportSize(MOBILE);
    for (const path of ["/triggers", "/topology", "/events"]) {
      await page.goto(`${cfg.url}${path}`);
      await waitForHydration(page);
      await assertNoHorizontalOverflow(page, `${path} at 390px`);
      shots.push(await shoot(page, cfg, `${path.slice(1)}-mobile.png`));
    }
  });

  await step("no script errors in the browser", async () => {
    assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
  });

  await finish(browser, shots);
}

run(main);

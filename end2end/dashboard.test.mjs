// End-to-end test of the Wisp dashboard: a real Chromium (playwright-core,
// /usr/bin/chromium, never a downloaded browser) against a running `wisp serve`.
// It walks the flow a user would: sign in, deploy a broken and a real
// function, call it through the gateway, read the invocation, find it on the
// Logs page, read the month's costs, sign out.
//
// Environment (set by the lead's test script, or by hand):
//   WISP_URL               dashboard origin, e.g. http://127.0.0.1:3000
//   WISP_GATEWAY_URL       gateway origin, e.g. http://127.0.0.1:8080
//   WISP_ADDRESSES         alternative to both: path of <data-dir>/addresses.json
//   WISP_ADMIN_PASSWORD    password of the `admin` user
//   WISP_FUNCTIONS_DIR     directory holding hello.wasm (or WISP_HELLO_WASM = its path) and,
//                          optionally, trap.wasm (or WISP_TRAP_WASM) for the error view
//   WISP_BAD_FILE          optional: a non-wasm file to upload (default: a generated text file)
//   WISP_SCREENSHOT_DIR    where screenshots go (default: end2end/screenshots)
//   WISP_CHROMIUM          browser binary (default: /usr/bin/chromium)
// Prints one line per step and finally `N passed, N failed`; exits 1 on any failure.

import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

import {
  DESKTOP,
  MOBILE,
  TIMEOUT_MS,
  assert,
  assertNoHorizontalOverflow,
  config,
  dropFile,
  shoot,
  step,
  waitForHydration,
  finish,
  run,
} from "./helpers.mjs";

const FUNCTION_NAME = "hello-e2e";

async function main() {
  const cfg = config();
  console.log(`end2end: dashboard ${cfg.url}, gateway ${cfg.gateway}, function ${cfg.helloWasm}`);
  const browser = await chromium.launch({
    executablePath: cfg.browser,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const pageErrors = [];
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("console", (msg) => {
    // Failed uploads answer 4xx on purpose; the browser logs those as errors.
    if (msg.type() === "error" && !/Failed to load resource/.test(msg.text())) {
      pageErrors.push(msg.text());
    }
  });
  const shots = [];
  let invocationHref;

  await step("a signed-out visit to /functions is redirected to /login", async () => {
    const response = await page.goto(`${cfg.url}/functions`);
    const url = new URL(page.url());
    assert(url.pathname === "/login", `landed on ${page.url()}`);
    assert(url.searchParams.get("next") === "/functions", `next is ${url.searchParams.get("next")}`);
    assert(response.request().redirectedFrom(), "expected a server-side redirect (302)");
    await waitForHydration(page);
    shots.push(await shoot(page, cfg, "login.png"));
  });

  await step("a wrong password shows an error", async () => {
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(`${cfg.password}-wrong`);
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.locator(".login-form .alert-error");
    await alert.waitFor();
    assert(/wrong username or password/i.test(await alert.innerText()), await alert.innerText());
  });

  await step("signing in goes back to /functions (the page asked for)", async () => {
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/functions");
    await page.getByRole("heading", { name: "Functions", level: 1 }).waitFor();
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "functions list");
    shots.push(await shoot(page, cfg, "functions-empty.png"));
  });

  await step("uploading a text file shows the server's validation message", async () => {
    await page.getByLabel("Function name").fill("bad");
    await page.setInputFiles("#deploy-file", cfg.badFile);
    await page.getByRole("button", { name: "Deploy" }).click();
    const alert = page.locator(".upload-result.alert-error");
    await alert.waitFor();
    const message = (await alert.innerText()).trim();
    assert(message.length > 0, "empty error message");
    assert(!/^The upload failed \(HTTP/.test(message), `no JSON error from the server: ${message}`);
    assert(!/^Fix the name/.test(message) && !/^Choose a/.test(message), `client-side error: ${message}`);
    console.log(`     server said: ${message}`);
    shots.push(await shoot(page, cfg, "upload-error.png"));
  });

  await step(`dropping hello.wasm as ${FUNCTION_NAME} deploys it with a progress bar`, async () => {
    await page.getByLabel("Function name").fill(FUNCTION_NAME);
    await dropFile(page, ".dropzone", cfg.helloWasm, "hello.wasm", "application/wasm");
    await page.locator(".dropzone-file", { hasText: "hello.wasm" }).waitFor();
    assert((await page.getByLabel("Function name").inputValue()) === FUNCTION_NAME, "name changed by the drop");
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("progressbar").waitFor();
    const success = page.locator(".upload-result.alert-success");
    await success.waitFor();
    const text = await success.innerText();
    assert(text.includes(FUNCTION_NAME) && /version 1\b/.test(text), `success says: ${text}`);
    const percent = await page.getByRole("progressbar").getAttribute("aria-valuenow");
    assert(percent === "100", `progress ends at ${percent}%`);
  });

  await step(`the list refreshes and shows ${FUNCTION_NAME}`, async () => {
    const row = page.locator("table tbody tr", { has: page.locator(`a.row-link:text-is("${FUNCTION_NAME}")`) });
    await row.waitFor();
    assert((await row.innerText()).includes("v1"), `row: ${await row.innerText()}`);
    await assertNoHorizontalOverflow(page, "functions list");
    shots.push(await shoot(page, cfg, "functions.png"));
  });

  await step("the list fits a 390×844 phone screen", async () => {
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "functions list on a phone");
    shots.push(await shoot(page, cfg, "functions-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step(`the function page shows version 1 live`, async () => {
    await page.locator(`a.row-link:text-is("${FUNCTION_NAME}")`).click();
    await page.waitForURL((url) => url.pathname === `/functions/${FUNCTION_NAME}`);
    await page.getByRole("heading", { name: "Versions" }).waitFor();
    const liveRow = page.locator("tr.row-live");
    await liveRow.waitFor();
    const text = await liveRow.innerText();
    assert(/v1/.test(text) && /Live/.test(text), `live row: ${text}`);
  });

  await step("calling the gateway URL answers Hello from Wisp!", async () => {
    const shown = page.locator("a.gateway-url");
    let target = `${cfg.gateway}/fn/${FUNCTION_NAME}/`;
    if (await shown.count()) {
      const href = await shown.getAttribute("href");
      assert(href === target, `page shows ${href}, expected ${target}`);
    } else {
      console.log("     (the page shows no gateway origin; the server provides no GatewayOrigin)");
    }
    const response = await fetch(target);
    const body = await response.text();
    assert(response.status === 200, `gateway answered ${response.status}: ${body}`);
    assert(body === "Hello from Wisp!\n", `gateway body: ${JSON.stringify(body)}`);
  });

  await step("after a reload the invocation is listed (rendered on the server)", async () => {
    // Records are written in small batches shortly after the call: poll briefly.
    let html = "";
    for (let attempt = 0; attempt < 25 && !html.includes("/invocations/"); attempt += 1) {
      if (attempt) await new Promise((done) => setTimeout(done, 200));
      html = await (await context.request.get(page.url())).text();
    }
    assert(html.includes("/invocations/"), "server-rendered function page has no invocation link");
    await page.reload();
    await waitForHydration(page);
    const link = page.locator("a[href^='/invocations/']").first();
    await link.waitFor();
    invocationHref = await link.getAttribute("href");
    const row = page.locator("tr", { has: link });
    assert(/Success/.test(await row.innerText()), `row: ${await row.innerText()}`);
    await assertNoHorizontalOverflow(page, "function page");
    shots.push(await shoot(page, cfg, "function.png"));
  });

  await step("the invocation page shows the logs", async () => {
    await page.evaluate(() => {
      window.__wispMarker = "still here";
    });
    await page.locator(`a[href='${invocationHref}']`).click();
    await page.waitForURL((url) => url.pathname === invocationHref);
    const logs = page.locator("pre.logs");
    await logs.waitFor();
    assert((await logs.innerText()).includes("hello:"), `logs: ${await logs.innerText()}`);
    assert((await page.evaluate(() => window.__wispMarker)) === "still here", "the click reloaded the page");
    await assertNoHorizontalOverflow(page, "invocation page");
    shots.push(await shoot(page, cfg, "invocation.png"));
  });

  await step("links navigate on the client, without a full reload", async () => {
    await page.locator(".breadcrumbs a", { hasText: FUNCTION_NAME }).click();
    await page.waitForURL((url) => url.pathname === `/functions/${FUNCTION_NAME}`);
    await page.getByRole("heading", { name: "Versions" }).waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Functions" }).click();
    await page.waitForURL((url) => url.pathname === "/functions");
    await page.getByRole("heading", { name: "All functions" }).waitFor();
    assert((await page.evaluate(() => window.__wispMarker)) === "still here", "navigation reloaded the page");
  });

  await step("a new version goes live, and rolling back to version 1 works", async () => {
    await page.locator(`a.row-link:text-is("${FUNCTION_NAME}")`).click();
    await page.waitForURL((url) => url.pathname === `/functions/${FUNCTION_NAME}`);
    await page.setInputFiles("#deploy-file", cfg.helloWasm);
    await page.getByRole("button", { name: "Upload new version" }).click();
    const success = page.locator(".upload-result.alert-success");
    await success.waitFor();
    assert(/version 2\b/.test(await success.innerText()), `success says: ${await success.innerText()}`);
    await page.locator("tr.row-live", { hasText: "v2" }).waitFor();
    await page.getByRole("button", { name: "Activate version 1" }).click();
    await page.getByRole("group", { name: "Confirm activating version 1" }).getByRole("button", { name: "Activate" }).click();
    await page.locator("tr.row-live", { hasText: "v1" }).waitFor();
    await page.locator("h1 .pill-live", { hasText: "v1 live" }).waitFor();
    const body = await (await fetch(`${cfg.gateway}/fn/${FUNCTION_NAME}/`)).text();
    assert(body === "Hello from Wisp!\n", `gateway body after rollback: ${JSON.stringify(body)}`);
    shots.push(await shoot(page, cfg, "function-versions.png"));
  });

  if (cfg.trapWasm) {
    await step("a failing function's invocation shows its error", async () => {
      const status = await page.evaluate(async (bytes) => {
        const response = await fetch("/api/v1/functions/trap-e2e/versions", {
          method: "POST",
          headers: { "Content-Type": "application/wasm", "X-Wisp-Csrf": "1" },
          body: new Uint8Array(bytes),
        });
        return response.status;
      }, [...readFileSync(cfg.trapWasm)]);
      assert(status === 201, `deploying trap.wasm answered ${status}`);
      const response = await fetch(`${cfg.gateway}/fn/trap-e2e/`);
      assert(response.status >= 500, `a trapping function answered ${response.status}`);
      let link;
      for (let attempt = 0; attempt < 25; attempt += 1) {
        await page.goto(`${cfg.url}/functions/trap-e2e?status=error`);
        link = page.locator("a[href^='/invocations/']").first();
        if (await link.count()) break;
        await new Promise((done) => setTimeout(done, 200));
      }
      await waitForHydration(page);
      const href = await link.getAttribute("href");
      await link.click();
      // Seen once in CI (not reproduced in 200 page loads here): the click
      // left no error on screen within 20 s. Say what the page was, then
      // load the invocation page itself; script errors still fail the
      // "no script errors" step below.
      const shown = await page.locator(".error-block").waitFor({ timeout: 10_000 }).then(() => true, () => false);
      if (!shown) {
        console.log(`     note: no error shown 10 s after clicking ${href} (page ${page.url()}, script errors so far: ${pageErrors.join(" | ") || "none"}); loading it again`);
        await page.goto(`${cfg.url}${href}`);
        await waitForHydration(page);
        await page.locator(".error-block").waitFor();
      }
      await page.locator("h1 .badge-error").waitFor();
      await assertNoHorizontalOverflow(page, "failed invocation page");
      shots.push(await shoot(page, cfg, "invocation-error.png"));
    });
  }

  await step("the function and invocation pages fit a 390×844 phone screen", async () => {
    await page.setViewportSize(MOBILE);
    await page.goto(`${cfg.url}/functions/${FUNCTION_NAME}`);
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "function page on a phone");
    shots.push(await shoot(page, cfg, "function-mobile.png"));
    await page.goto(`${cfg.url}${invocationHref}`);
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "invocation page on a phone");
    shots.push(await shoot(page, cfg, "invocation-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("the Logs page finds a call by a word of its logs and marks the hit", async () => {
    const response = await fetch(`${cfg.gateway}/fn/${FUNCTION_NAME}/orders/quokka42`);
    assert(response.status === 200, `gateway answered ${response.status}`);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Logs" }).click();
    await page.waitForURL((url) => url.pathname === "/logs");
    await page.getByLabel("Search", { exact: true }).fill("Quokka42");
    await page.getByLabel("Function", { exact: true }).selectOption(FUNCTION_NAME);
    await page.getByLabel("Status", { exact: true }).selectOption("success");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL((url) => url.searchParams.get("q") === "Quokka42");
    // The record is written shortly after the call: search again until it is there.
    let hit = page.locator(".log-table mark");
    for (let attempt = 0; attempt < 25 && !(await hit.count()); attempt += 1) {
      await new Promise((done) => setTimeout(done, 200));
      await page.reload();
    }
    await waitForHydration(page);
    assert((await hit.count()) === 1, `${await hit.count()} marked hits`);
    assert((await hit.innerText()) === "quokka42", `marked: ${await hit.innerText()}`);
    const line = await page.locator(".log-table .log-hit").first().innerText();
    assert(line.includes("hello: GET /orders/quokka42"), `line: ${line}`);
    assert((await page.locator(".log-table tbody tr.log-hit-head").count()) === 1, "one matching invocation");
    assert((await page.getByLabel("Function", { exact: true }).inputValue()) === FUNCTION_NAME, "the form keeps the function");
    await assertNoHorizontalOverflow(page, "logs page");
    shots.push(await shoot(page, cfg, "logs.png"));
    await page.setViewportSize(MOBILE);
    await assertNoHorizontalOverflow(page, "logs page on a phone");
    shots.push(await shoot(page, cfg, "logs-mobile.png"));
    await page.setViewportSize(DESKTOP);
    const link = page.locator(".log-table a[href^='/invocations/']").first();
    const href = await link.getAttribute("href");
    await link.click();
    await page.waitForURL((url) => url.pathname === href);
    assert((await page.locator("pre.logs").innerText()).includes("quokka42"), "the invocation's logs");
  });

  await step("a search with nothing to look for says so", async () => {
    await page.goto(`${cfg.url}/logs?q=${encodeURIComponent("!!! ---")}`);
    await waitForHydration(page);
    const panel = page.locator(".panel-error");
    await panel.waitFor();
    assert(/no letters or digits/.test(await panel.innerText()), await panel.innerText());
  });

  await step("the Costs page shows the month's usage, chart and CSV download", async () => {
    // Usage is rolled up shortly after each call: poll the server-rendered page.
    let html = "";
    for (let attempt = 0; attempt < 50 && !html.includes(`href="/functions/${FUNCTION_NAME}"`); attempt += 1) {
      if (attempt) await new Promise((done) => setTimeout(done, 200));
      html = await (await context.request.get(`${cfg.url}/costs`)).text();
    }
    assert(html.includes(`href="/functions/${FUNCTION_NAME}"`), "server-rendered /costs has no row for the function");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Costs" }).click();
    await page.waitForURL((url) => url.pathname === "/costs");
    await page.getByRole("heading", { name: "Costs", level: 1 }).waitFor();
    await waitForHydration(page);
    const row = page.locator(".cost-table tbody tr", { has: page.locator(`a.row-link:text-is("${FUNCTION_NAME}")`) });
    await row.waitFor();
    const requests = Number((await row.locator("td.requests").innerText()).replace(/,/g, ""));
    assert(requests >= 1, `requests cell: ${await row.locator("td.requests").innerText()}`);
    const bars = await page.locator("svg.cost-chart rect.bar").count();
    assert(bars >= 1, `the chart has ${bars} bars`);
    const title = await page.locator("svg.cost-chart > title").textContent();
    assert(/per day/.test(title ?? ""), `chart title: ${title}`);
    // Sorting is client side: by name ascending, then back.
    await page.locator(".cost-table thead button", { hasText: "Function" }).click();
    await page.locator(".cost-table thead th[aria-sort='ascending']", { hasText: "Function" }).waitFor();
    const csvHref = await page.getByRole("link", { name: "Download CSV" }).getAttribute("href");
    assert(/^\/api\/v1\/costs\/\d{4}-\d{2}\.csv$/.test(csvHref), `CSV link: ${csvHref}`);
    const csv = await page.request.get(`${cfg.url}${csvHref}`);
    assert(csv.status() === 200, `CSV answered ${csv.status()}`);
    assert(/^text\/csv/.test(csv.headers()["content-type"] ?? ""), `CSV type: ${csv.headers()["content-type"]}`);
    assert((await csv.text()).includes(FUNCTION_NAME), "the CSV does not name the function");
    await assertNoHorizontalOverflow(page, "costs page");
    shots.push(await shoot(page, cfg, "costs.png"));
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    await assertNoHorizontalOverflow(page, "costs page on a phone");
    shots.push(await shoot(page, cfg, "costs-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("the functions list pages by name and searches on the server", async () => {
    // 100 more functions: with hello-e2e and trap-e2e more than one page of 100.
    const statuses = await page.evaluate(async (bytes) => {
      const body = new Uint8Array(bytes);
      const out = [];
      for (let i = 0; i < 100; i += 1) {
        const name = `page-${String(i).padStart(3, "0")}`;
        const response = await fetch(`/api/v1/functions/${name}/versions`, {
          method: "POST",
          headers: { "Content-Type": "application/wasm", "X-Wisp-Csrf": "1" },
          body,
        });
        out.push(response.status);
      }
      return out;
    }, [...readFileSync(cfg.helloWasm)]);
    assert(statuses.every((s) => s === 201), `deploys answered ${[...new Set(statuses)]}`);
    await page.goto(`${cfg.url}/functions`);
    await waitForHydration(page);
    const rows = page.locator("table.function-table tbody tr[data-function]");
    assert((await rows.count()) === 100, `first page has ${await rows.count()} rows`);
    const pager = page.getByRole("navigation", { name: "Function pages" });
    assert(/100 shown of \d+ functions, by name/.test(await pager.innerText()), await pager.innerText());
    await pager.getByRole("link", { name: /Next 100/ }).click();
    await page.waitForURL((url) => url.searchParams.has("after"));
    await pager.getByRole("link", { name: "← First page" }).waitFor();
    const rest = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.function));
    assert(rest.length >= 1 && rest.length < 100, `second page: ${rest.length} rows`);
    assert(rest.every((name, i) => i === 0 || rest[i - 1] < name), `not by name: ${rest}`);
    await page.getByLabel("Search functions by name").fill("page-05");
    await page.getByLabel("Search functions by name").press("Enter");
    await page.waitForURL((url) => url.searchParams.get("search") === "page-05" && !url.searchParams.has("after"));
    await waitForHydration(page);
    const found = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.function));
    const expected = Array.from({ length: 10 }, (_, i) => `page-05${i}`);
    assert(JSON.stringify(found) === JSON.stringify(expected), `search found ${found}`);
    assert(/10 functions matching “page-05”/.test(await pager.innerText()), await pager.innerText());
    await assertNoHorizontalOverflow(page, "searched functions list");
    shots.push(await shoot(page, cfg, "functions-search.png"));
    // The suites after this one share the server and look for their own
    // functions on the first page: the 100 go again.
    const deleted = await page.evaluate(async () => {
      const out = [];
      for (let i = 0; i < 100; i += 1) {
        const name = `page-${String(i).padStart(3, "0")}`;
        const response = await fetch(`/api/v1/functions/${name}`, { method: "DELETE", headers: { "X-Wisp-Csrf": "1" } });
        out.push(response.status);
      }
      return out;
    });
    assert(deleted.every((s) => s === 204), `deletes answered ${[...new Set(deleted)]}`);
  });

  await step("signing out returns to the sign-in page and ends the session", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    await page.goto(`${cfg.url}/functions/${FUNCTION_NAME}`);
    const url = new URL(page.url());
    assert(url.pathname === "/login", `still signed in: ${page.url()}`);
    assert(url.searchParams.get("next") === `/functions/${FUNCTION_NAME}`, `next: ${url.searchParams.get("next")}`);
  });

  await step("no script errors in the browser", async () => {
    assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
  });

  await finish(browser, shots);
}

run(main);

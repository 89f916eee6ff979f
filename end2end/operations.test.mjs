// End-to-end test of the dashboard's day-to-day views, against a running
// `wisp serve` in a real Chromium (playwright-core, /usr/bin/chromium): the
// overview after sign-in, the searchable and sortable functions table, the
// function page's test request, invocation filters, live log tail and
// configuration form, API tokens on the settings page (a revoked token gets
// 401 from the API), and sign-out. Same environment as dashboard.test.mjs.

import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

import {
  DESKTOP,
  MOBILE,
  TIMEOUT_MS,
  assert,
  assertNoHorizontalOverflow,
  config,
  shoot,
  step,
  waitForHydration,
  finish,
  run,
} from "./helpers.mjs";

const MAIN = "ops-e2e";
const QUIET = "ops-quiet";

const pause = (ms) => new Promise((done) => setTimeout(done, ms));

async function main() {
  const cfg = config();
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
    if (msg.type() === "error" && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text());
  });
  const shots = [];
  const nav = () => page.getByRole("navigation", { name: "Main" });
  let testedInvocation;
  let token;

  await step("signing in from /login lands on the overview", async () => {
    await page.goto(`${cfg.url}/login`);
    await waitForHydration(page);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/");
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    await waitForHydration(page);
    assert((await nav().getByRole("link", { name: "Overview" }).getAttribute("aria-current")) === "page", "Overview is not the current nav item");
  });

  await step(`deploying ${MAIN} and ${QUIET}, and calling ${MAIN} three times`, async () => {
    for (const name of [MAIN, QUIET]) {
      const status = await page.evaluate(
        async ({ name, bytes }) =>
          (
            await fetch(`/api/v1/functions/${name}/versions`, {
              method: "POST",
              headers: { "Content-Type": "application/wasm", "X-Wisp-Csrf": "1" },
              body: new Uint8Array(bytes),
            })
          ).status,
        { name, bytes: [...readFileSync(cfg.helloWasm)] },
      );
      assert(status === 201, `deploying ${name} answered ${status}`);
    }
    for (let i = 0; i < 3; i += 1) {
      const response = await fetch(`${cfg.gateway}/fn/${MAIN}/call-${i}`);
      assert(response.status === 200, `gateway answered ${response.status}`);
    }
  });

  await step("the overview shows the calls, a chart and the function count", async () => {
    let calls = 0;
    for (let attempt = 0; attempt < 30 && calls < 3; attempt += 1) {
      if (attempt) await pause(200);
      await page.getByRole("button", { name: "Refresh" }).click();
      await page.getByRole("button", { name: "Refresh" }).waitFor();
      calls = Number((await page.locator("[data-stat='calls-hour'] .stat-value").innerText()).replace(/,/g, ""));
    }
    assert(calls >= 3, `calls in the last hour: ${calls}`);
    const functions = Number(await page.locator("[data-stat='functions'] .stat-value").innerText());
    assert(functions >= 2, `functions: ${functions}`);
    const bars = await page.locator("svg.minute-chart rect.bar").count();
    assert(bars >= 1, `the chart has ${bars} bars`);
    const title = await page.locator("svg.minute-chart > title").textContent();
    assert(/per minute/.test(title ?? ""), `chart title: ${title}`);
    // Server rendered too: the same numbers without running any script.
    const html = await (await context.request.get(`${cfg.url}/`)).text();
    assert(html.includes("minute-chart") && html.includes("Calls · last hour"), "the overview is not server rendered");
    await assertNoHorizontalOverflow(page, "overview");
    shots.push(await shoot(page, cfg, "overview.png"));
    await page.setViewportSize(MOBILE);
    await assertNoHorizontalOverflow(page, "overview on a phone");
    shots.push(await shoot(page, cfg, "overview-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("the functions table searches by name and sorts by column", async () => {
    await nav().getByRole("link", { name: "Functions" }).click();
    await page.waitForURL((url) => url.pathname === "/functions");
    await page.locator(`tr[data-function='${MAIN}']`).waitFor();
    const callsCell = await page.locator(`tr[data-function='${MAIN}'] td.calls`).innerText();
    assert(Number(callsCell) >= 3, `calls of ${MAIN}: ${callsCell}`);
    // The search runs on the server (a GET form): Enter submits it.
    await page.getByLabel("Search functions by name").fill("quiet");
    await page.getByLabel("Search functions by name").press("Enter");
    await page.waitForURL((url) => url.searchParams.get("search") === "quiet");
    await waitForHydration(page);
    await page.locator(`tr[data-function='${MAIN}']`).waitFor({ state: "detached" });
    const names = await page.locator("tr[data-function]").evaluateAll((rows) => rows.map((r) => r.dataset.function));
    assert(names.length >= 1 && names.every((n) => n.includes("quiet")), `search left ${names}`);
    await page.getByLabel("Search functions by name").fill("");
    await page.getByLabel("Search functions by name").press("Enter");
    await page.waitForURL((url) => !url.searchParams.get("search"));
    await waitForHydration(page);
    await page.locator(`tr[data-function='${MAIN}']`).waitFor();
    await page.locator(".function-table thead button", { hasText: "Calls" }).click();
    await page.locator(".function-table thead th[aria-sort='descending']", { hasText: "Calls" }).waitFor();
    const calls = await page.locator("tr[data-function] td.calls").evaluateAll((cells) => cells.map((c) => Number(c.innerText.replace(/,/g, ""))));
    assert(calls.every((n, i) => i === 0 || calls[i - 1] >= n), `calls not descending: ${calls}`);
    await page.locator(".function-table thead button", { hasText: "Name" }).click();
    await page.locator(".function-table thead th[aria-sort='ascending']", { hasText: "Name" }).waitFor();
    const sorted = await page.locator("tr[data-function]").evaluateAll((rows) => rows.map((r) => r.dataset.function));
    assert(sorted.join() === [...sorted].sort().join(), `names not ascending: ${sorted}`);
    await assertNoHorizontalOverflow(page, "functions table");
    shots.push(await shoot(page, cfg, "functions-table.png"));
  });

  await step("a test request shows status, body, and the invocation's logs", async () => {
    await page.locator(`a.row-link:text-is("${MAIN}")`).click();
    await page.waitForURL((url) => url.pathname === `/functions/${MAIN}`);
    await waitForHydration(page);
    await page.getByLabel("Method").selectOption("POST");
    await page.getByLabel("Path").fill("/from-test?x=1");
    await page.getByLabel("Headers").fill("X-Test: yes");
    await page.getByLabel("Body").fill("ping");
    await page.getByRole("button", { name: "Send request" }).click();
    await page.locator(".answer-summary .http[data-status='200']").waitFor();
    const body = await page.locator(".test-answer pre.response-body").innerText();
    assert(body.includes("Hello from Wisp!"), `body: ${body}`);
    const logs = page.locator(".test-answer pre.test-logs");
    await logs.waitFor();
    assert((await logs.innerText()).includes("POST /from-test?x=1"), `logs: ${await logs.innerText()}`);
    testedInvocation = await page.locator(".answer-summary a[href^='/invocations/']").getAttribute("href");
    assert(testedInvocation, "no link to the invocation");
    await page.locator(".test-answer").scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${cfg.screenshots}/function-test.png` });
    shots.push(`${cfg.screenshots}/function-test.png`);
  });

  await step("a header line without a colon is refused beside the field", async () => {
    await page.getByLabel("Headers").fill("not a header");
    await page.getByRole("button", { name: "Send request" }).click();
    const error = page.locator("#test-headers-error");
    await error.waitFor();
    assert(/Name: value/.test(await error.innerText()), await error.innerText());
    await page.getByLabel("Headers").fill("");
  });

  await step("the test call is listed with the invocations and has its own page", async () => {
    const row = page.locator(`.card a[href='${testedInvocation}']`).first();
    for (let attempt = 0; attempt < 20 && !(await row.count()); attempt += 1) {
      await page.locator("section[aria-labelledby='invocations-title'] button", { hasText: "Refresh" }).click();
      await pause(200);
    }
    await row.waitFor();
    await row.click();
    await page.waitForURL((url) => url.pathname === testedInvocation);
    const logs = page.locator("pre.logs");
    await logs.waitFor();
    assert((await logs.innerText()).includes("POST /from-test?x=1"), `logs: ${await logs.innerText()}`);
    shots.push(await shoot(page, cfg, "invocation-test.png"));
    await page.goBack();
    await page.waitForURL((url) => url.pathname === `/functions/${MAIN}`);
  });

  await step("the time-range filter keeps recent calls and narrows the status", async () => {
    await page.locator("nav[aria-label='Filter invocations by time'] a", { hasText: "15 min" }).click();
    await page.waitForURL((url) => url.searchParams.get("range") === "15m");
    await page.locator(`.card a[href='${testedInvocation}']`).first().waitFor();
    await page.locator("nav[aria-label='Filter invocations by status'] a", { hasText: "Failed" }).click();
    await page.waitForURL((url) => url.searchParams.get("status") === "error" && url.searchParams.get("range") === "15m");
    await page.getByText("No invocations match these filters").waitFor();
    const html = await (await context.request.get(`${cfg.url}/functions/${MAIN}?range=15m`)).text();
    assert(html.includes(testedInvocation), "the filtered page is not server rendered with the call");
    await page.getByRole("link", { name: "Show all invocations" }).click();
    await page.waitForURL((url) => url.search === "");
  });

  await step("the live tail shows a gateway call within seconds", async () => {
    await page.locator(".tail-status.live").waitFor();
    const response = await fetch(`${cfg.gateway}/fn/${MAIN}/tail-check`);
    const id = response.headers.get("x-wisp-invocation-id");
    assert(response.status === 200 && id, `gateway answered ${response.status}`);
    const started = Date.now();
    const line = page.locator(`.tail-line[data-invocation='${id}']`);
    await line.waitFor({ timeout: 5_000 });
    const waited = Date.now() - started;
    assert((await line.innerText()).includes("GET /tail-check"), `line: ${await line.innerText()}`);
    assert((await line.locator(`a[href='/invocations/${id}']`).count()) === 1, "the line does not link its invocation");
    console.log(`     line appeared after ${waited} ms`);
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("button", { name: "Resume" }).waitFor();
    await fetch(`${cfg.gateway}/fn/${MAIN}/while-paused`);
    // The tail-check call's record may itself arrive after the pause (the
    // line above can be its running entry): one or two records wait.
    await page.getByText(/[12] waiting/).waitFor();
    await page.getByRole("button", { name: "Resume" }).click();
    await page.locator(".tail-line", { hasText: "/while-paused" }).waitFor();
    await page.locator(".tail-card").scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${cfg.screenshots}/function-tail.png` });
    shots.push(`${cfg.screenshots}/function-tail.png`);
    await page.getByRole("button", { name: "Clear" }).click();
    await page.locator(".tail-empty").waitFor();
  });

  await step("the configuration form refuses a bad value in place, then saves", async () => {
    await page.getByLabel("Memory (MiB)").fill("99999");
    await page.getByRole("button", { name: "Save configuration" }).click();
    const error = page.locator("#cfg-memory-error");
    await error.waitFor();
    assert(/between 1 and 4096/.test(await error.innerText()), await error.innerText());
    assert((await page.getByLabel("Memory (MiB)").getAttribute("aria-invalid")) === "true", "field not marked invalid");
    await page.getByLabel("Memory (MiB)").fill("256");
    await page.getByLabel("Timeout (ms)").fill("5000");
    await page.getByRole("button", { name: "Add variable" }).click();
    await page.getByLabel("Variable name").last().fill("GREETING");
    await page.getByLabel("Value of GREETING").fill("hi");
    await page.getByRole("button", { name: "Add host" }).click();
    await page.getByLabel("Allowed host").last().fill("api.example.com");
    await page.getByRole("button", { name: "Save configuration" }).click();
    await page.locator(".saved").waitFor();
    assert(!(await page.locator("#cfg-memory-error").count()), "the old error is still shown");
    const detail = await (await context.request.get(`${cfg.url}/api/v1/functions/${MAIN}`)).json();
    assert(detail.config.memory_mb === 256 && detail.config.timeout_ms === 5000, `config: ${JSON.stringify(detail.config)}`);
    assert(detail.config.env.GREETING === "hi", `env: ${JSON.stringify(detail.config.env)}`);
    assert(detail.config.allowed_hosts.join() === "api.example.com", `hosts: ${detail.config.allowed_hosts}`);
    await assertNoHorizontalOverflow(page, "function page");
    shots.push(await shoot(page, cfg, "function-full.png"));
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    assert((await page.getByLabel("Memory (MiB)").inputValue()) === "256", "saved memory not shown after reload");
    await assertNoHorizontalOverflow(page, "function page on a phone");
    shots.push(await shoot(page, cfg, "function-full-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("a token is created and shown once, then revoked and refused by the API", async () => {
    await nav().getByRole("link", { name: "Settings" }).click();
    await page.waitForURL((url) => url.pathname === "/settings");
    await waitForHydration(page);
    await page.getByLabel("Token name").fill("e2e token");
    await page.getByRole("button", { name: "Create token" }).click();
    const shown = page.locator("#new-token-value");
    await shown.waitFor();
    token = await shown.inputValue();
    assert(/^wisp_/.test(token), `token: ${token}`);
    const row = page.locator("tr", { hasText: "e2e token" });
    await row.waitFor();
    assert((await row.innerText()).includes(token.slice(0, 9)), `row: ${await row.innerText()}`);
    const ok = await fetch(`${cfg.url}/api/v1/functions`, { headers: { Authorization: `Bearer ${token}` } });
    assert(ok.status === 200, `the new token got ${ok.status}`);
    await assertNoHorizontalOverflow(page, "settings");
    shots.push(await shoot(page, cfg, "settings.png"));
    await page.reload();
    await waitForHydration(page);
    assert(!(await page.locator("#new-token-value").count()), "the token is shown again after a reload");
    assert(!(await page.content()).includes(token), "the secret is in the page after a reload");
    await page.setViewportSize(MOBILE);
    await assertNoHorizontalOverflow(page, "settings on a phone");
    shots.push(await shoot(page, cfg, "settings-mobile.png"));
    await page.setViewportSize(DESKTOP);
    await page.getByRole("button", { name: "Revoke token e2e token" }).click();
    await page.getByRole("group", { name: "Confirm revoking e2e token" }).getByRole("button", { name: "Revoke" }).click();
    await page.locator("tr", { hasText: "e2e token" }).waitFor({ state: "detached" });
    const refused = await fetch(`${cfg.url}/api/v1/functions`, { headers: { Authorization: `Bearer ${token}` } });
    assert(refused.status === 401, `the revoked token got ${refused.status}`);
  });

  await step("data retention: the team's period and the server's are set on Settings and shown on the overview", async () => {
    await page.goto(`${cfg.url}/settings`);
    await waitForHydration(page);
    const card = page.locator("#retention");
    await card.locator("[data-fact='retention']").waitFor();
    assert(/30 days/.test(await card.locator("[data-fact='retention']").innerText()), "default period");
    assert(/iB|\d B/.test(await card.locator("[data-fact='database-size']").innerText()), "database size");
    await page.getByLabel("Team's period (days)").fill("0");
    await page.locator("[data-form='team-retention']").getByRole("button", { name: "Save" }).click();
    await card.locator(".alert-error, [data-fact='retention']").first().waitFor();
    // The browser's own check (min=1) or the server's refusal: never saved.
    const saved = await (await context.request.get(`${cfg.url}/api/v1/retention`)).json();
    assert(saved.team_days === null, `0 days was saved: ${JSON.stringify(saved)}`);
    await page.getByLabel("Team's period (days)").fill("90");
    await page.locator("[data-form='team-retention']").getByRole("button", { name: "Save" }).click();
    await card.locator("[data-fact='retention']", { hasText: "90 days" }).waitFor();
    assert(/set by the team/.test(await card.locator("[data-fact='retention']").innerText()), "whose period");
    await page.getByLabel("Server default (days, administrators)").fill("45");
    await page.locator("[data-form='server-retention']").getByRole("button", { name: "Save" }).click();
    await page.getByLabel("Server default (days, administrators)").and(page.locator("[value='45']")).waitFor();
    // Administrators also see the server card: facts, backups, the price plan.
    const server = page.locator("#server");
    await server.locator("[data-fact='version']").waitFor();
    assert(/^\d+\.\d+\.\d+/.test(await server.locator("[data-fact='version']").innerText()), "version");
    assert(/wisp-e2e/.test(await server.locator("[data-fact='data-dir']").innerText()), "data dir");
    assert(/SQLite/.test(await server.locator("[data-fact='database']").innerText()), "database");
    assert((await server.locator("[data-fact='nodes']").innerText()).trim() === "1 of 1", "nodes");
    // The same prices again, from now on: saved without changing any cost.
    await page.locator("[data-form='price-plan']").getByRole("button", { name: "Save plan" }).click();
    await page.locator("[data-form='price-plan'] button:not([disabled])").waitFor();
    assert(!(await server.locator(".alert-error").count()), "saving the price plan failed");
    await assertNoHorizontalOverflow(page, "settings with retention");
    shots.push(await shoot(page, cfg, "settings-retention.png"));
    await page.goto(`${cfg.url}/`);
    await waitForHydration(page);
    const storage = page.locator("[data-card='storage']");
    assert(/90 days/.test(await storage.locator("[data-fact='retention']").innerText()), "overview period");
    assert(/\d/.test(await storage.locator("[data-fact='oldest-record']").innerText()), "oldest record");
    // Back to the defaults for the suites that follow.
    await page.goto(`${cfg.url}/settings`);
    await waitForHydration(page);
    await page.getByLabel("Team's period (days)").fill("");
    await page.locator("[data-form='team-retention']").getByRole("button", { name: "Save" }).click();
    await card.locator("[data-fact='retention']", { hasText: "45 days" }).waitFor();
    await page.getByLabel("Server default (days, administrators)").fill("30");
    await page.locator("[data-form='server-retention']").getByRole("button", { name: "Save" }).click();
    await card.locator("[data-fact='retention']", { hasText: "30 days" }).waitFor();
  });

  await step("an alert rule is created on the Alerts page, fires, shows in the history and is deleted", async () => {
    await nav().getByRole("link", { name: "Alerts" }).click();
    await page.waitForURL((url) => url.pathname === "/alerts");
    await waitForHydration(page);
    await page.getByLabel("Name", { exact: true }).fill("e2e-slow");
    await page.getByLabel("Metric").selectOption("p95_ms");
    await page.getByLabel("Fires above").fill("0");
    await page.getByLabel("Watch").selectOption("function");
    await page.getByLabel("Function or application name").fill(MAIN);
    await page.getByLabel("Window (minutes, error rate and p95)").fill("60");
    await page.getByRole("button", { name: "Create rule" }).click();
    const secret = await page.locator("#new-alert-secret").inputValue();
    assert(/^whsec_[0-9a-f]{48}$/.test(secret), `secret: ${secret}`);
    await page.locator("tr[data-alert='e2e-slow']").waitFor();
    // Calls of the function in the last hour have a p95 above 0 ms: it
    // fires at the next evaluation (every 2 s in this server).
    let state = "";
    for (let i = 0; i < 40 && state !== "firing"; i += 1) {
      await pause(500);
      await page.reload();
      await waitForHydration(page);
      state = await page.locator("tr[data-alert='e2e-slow']").getAttribute("data-state");
    }
    assert(state === "firing", `the rule is ${state}`);
    assert(await page.locator("tr[data-event='firing']", { hasText: "e2e-slow" }).count() === 1, "no firing event in the history");
    await assertNoHorizontalOverflow(page, "alerts");
    shots.push(await shoot(page, cfg, "alerts.png"));
    await page.setViewportSize(MOBILE);
    await assertNoHorizontalOverflow(page, "alerts on a phone");
    shots.push(await shoot(page, cfg, "alerts-mobile.png"));
    await page.setViewportSize(DESKTOP);
    await page.getByRole("button", { name: "Delete alert e2e-slow" }).click();
    await page.locator("tr[data-alert='e2e-slow']").waitFor({ state: "detached" });
  });

  await step("the team page adds a member, changes their role and shows the audit log", async () => {
    const created = await page.evaluate(async () => {
      const response = await fetch("/api/v1/users", {
        method: "POST",
        headers: { "content-type": "application/json", "x-wisp-csrf": "1" },
        body: JSON.stringify({ username: "e2e-dev", password: "e2e-dev-password" }),
      });
      return response.status;
    });
    assert(created === 201 || created === 409, `creating a user answered ${created}`);
    await nav().getByRole("link", { name: "Team" }).click();
    await page.waitForURL((url) => url.pathname === "/team");
    await waitForHydration(page);
    await page.getByLabel("User name").fill("e2e-dev");
    await page.getByLabel("Role", { exact: true }).selectOption("developer");
    await page.getByRole("button", { name: "Add or change" }).click();
    await page.locator("tr[data-member='e2e-dev']", { hasText: "developer" }).waitFor();
    await page.getByLabel("Role of e2e-dev").selectOption("viewer");
    await page.locator("tr[data-member='e2e-dev']", { hasText: "viewer" }).waitFor();
    const audit = page.locator(".audit-table");
    await audit.locator("tr", { hasText: "set_member_role" }).first().waitFor();
    assert((await audit.innerText()).includes("admin"), "the audit log names who changed the team");
    await assertNoHorizontalOverflow(page, "team");
    shots.push(await shoot(page, cfg, "team.png"));
    await page.setViewportSize(MOBILE);
    await assertNoHorizontalOverflow(page, "team on a phone");
    shots.push(await shoot(page, cfg, "team-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("invocations page by 50: older, then newer again", async () => {
    for (let i = 0; i < 55; i += 1) {
      const response = await fetch(`${cfg.gateway}/fn/${QUIET}/page-${i}`);
      assert(response.status === 200, `gateway answered ${response.status}`);
    }
    // Records are written in the background: wait until all 55 are stored.
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const stored = await page.evaluate(
        async (name) => (await (await fetch(`/api/v1/functions/${name}/invocations?limit=100`)).json()).length,
        QUIET,
      );
      if (stored >= 55) break;
      await pause(100);
    }
    const rows = page.locator("section[aria-labelledby='invocations-title'] tbody tr");
    for (let attempt = 0; attempt < 30; attempt += 1) {
      await page.goto(`${cfg.url}/functions/${QUIET}`);
      if ((await rows.count()) === 50 && (await page.locator("a[rel='next']").count())) break;
      await pause(200);
    }
    await waitForHydration(page);
    assert((await rows.count()) === 50, `first page has ${await rows.count()} rows`);
    const newest = await rows.first().locator("a").getAttribute("href");
    await page.locator("a[rel='next']", { hasText: "Older" }).click();
    await page.waitForURL((url) => url.searchParams.has("before"));
    await page.locator("a[rel='prev']", { hasText: "Newer" }).waitFor();
    const older = await rows.count();
    assert(older >= 5 && older <= 50, `older page has ${older} rows`);
    assert(!(await page.locator(`tbody a[href='${newest}']`).count()), "the older page repeats the newest call");
    await page.locator("a[rel='prev']", { hasText: "Newer" }).click();
    await page.waitForURL((url) => url.searchParams.has("after"));
    await page.locator(`tbody a[href='${newest}']`).waitFor();
    assert((await rows.count()) === 50, `newer page has ${await rows.count()} rows`);
  });

  await step("signing out ends the session", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    const response = await context.request.get(`${cfg.url}/api/v1/tokens`);
    assert(response.status() === 401, `the API still answers ${response.status()} to the old cookie`);
  });

  await step("no script errors in the browser", async () => {
    assert(pageErrors.length === 0, `errors:\n${pageErrors.join("\n")}`);
  });

  await finish(browser, shots);
}

run(main);

// Browser regression tests for the attacks an outside test ran in a real
// Chromium (docs/SECURITY.md, "Attacks and their tests"): a sign-in link
// whose `next` hides a tab (`/%09/evil.example`) must not leave the site; a
// page on the gateway (another port of the same host, so the browser sends
// the dashboard's cookie there too) must never see the session cookie; and
// such a page must not be able to sign the owner into another account
// (login CSRF). Same environment as dashboard.test.mjs.

import { chromium } from "playwright-core";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import {
  TIMEOUT_MS,
  DESKTOP,
  assert,
  config,
  results,
  waitForHydration,
  finish,
  run,
} from "./helpers.mjs";

// Each attack is its own check: one that succeeds must not hide the others.
async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    results.passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.failed += 1;
    console.log(`FAIL ${name}\n     ${String(err?.stack ?? err).split("\n").join("\n     ")}`);
  }
}

const ECHO = "sec-echo";
const MALLORY = { username: "mallory", password: "mallory-password-1" };

// Where the page settles after leaving `from` (a navigation to an
// unreachable host ends on Chromium's error page, which never "loads").
async function urlAfterLeaving(page, from) {
  for (let i = 0; i < 150 && page.url().startsWith(from); i += 1) {
    await new Promise((done) => setTimeout(done, 100));
  }
  await new Promise((done) => setTimeout(done, 300));
  return page.url();
}

async function signIn(page, cfg, path) {
  await page.goto(`${cfg.url}${path}`);
  await waitForHydration(page);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(cfg.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  return urlAfterLeaving(page, `${cfg.url}/login`);
}

async function main() {
  const cfg = config();
  const echoWasm = join(process.env.WISP_FUNCTIONS_DIR ?? join(process.cwd(), "../functions"), "echo.wasm");
  assert(existsSync(echoWasm), `${echoWasm} is missing: run functions/build.sh`);
  const browser = await chromium.launch({
    executablePath: cfg.browser,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const api = async (method, path, body, type = "application/json") =>
    page.evaluate(
      async ({ method, path, body, type }) => {
        const response = await fetch(path, {
          method,
          headers: { "Content-Type": type, "X-Wisp-Csrf": "1" },
          body: type === "application/wasm" ? new Uint8Array(body) : body && JSON.stringify(body),
        });
        return { status: response.status, text: await response.text() };
      },
      { method, path, body, type },
    );

  await step("a sign-in link with a tab in next stays on the dashboard", async () => {
    const landed = await signIn(page, cfg, "/login?next=/%09/evil.example");
    assert(landed === `${cfg.url}/`, `sign-in sent the browser to ${landed}`);
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  });

  await step("a newline in next neither breaks the sign-in nor leaves the site", async () => {
    const landed = await signIn(page, cfg, "/login?next=/%0a/evil.example");
    assert(landed === `${cfg.url}/`, `sign-in sent the browser to ${landed}`);
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  });

  await step(`deploying ${ECHO} and a second account`, async () => {
    const landed = await signIn(page, cfg, "/login");
    assert(landed === `${cfg.url}/`, `plain sign-in landed on ${landed}`);
    const deployed = await api("POST", `/api/v1/functions/${ECHO}/versions`, [...readFileSync(echoWasm)], "application/wasm");
    assert(deployed.status === 201, `deploy: ${deployed.status} ${deployed.text}`);
    const user = await api("POST", "/api/v1/users", MALLORY);
    assert(user.status === 201 || user.status === 409, `user: ${user.status} ${user.text}`);
    const member = await api("PUT", `/api/v1/team/members/${MALLORY.username}`, { role: "viewer" });
    assert(member.status === 200, `member: ${member.status} ${member.text}`);
  });

  await step("a gateway page never sees the dashboard's session cookie", async () => {
    const gatewayCookies = await context.cookies(cfg.gateway);
    assert(
      gatewayCookies.some((c) => c.name.endsWith("wisp_session")),
      `the browser does not send the session to the gateway (${JSON.stringify(gatewayCookies)}): the test proves nothing`,
    );
    await page.goto(`${cfg.gateway}/fn/${ECHO}/page`);
    await page.evaluate(() => {
      document.cookie = "theme=dark; path=/";
    });
    await page.reload();
    const seen = JSON.parse(await page.locator("body").innerText());
    const cookie = seen.headers.cookie ?? "";
    assert(!cookie.includes("wisp_session"), `the function saw the session: ${cookie}`);
    assert(cookie.includes("theme=dark"), `the gateway's own cookie did not pass: ${cookie}`);
  });

  await step("a gateway page cannot sign the owner into another account", async () => {
    await page.evaluate(
      async ({ url, username, password }) => {
        // What a hostile page can send without a preflight.
        await fetch(`${url}/api/v1/login`, {
          method: "POST",
          mode: "no-cors",
          credentials: "include",
          headers: { "Content-Type": "text/plain" },
          body: JSON.stringify({ username, password }),
        }).catch(() => {});
        const form = document.createElement("form");
        form.method = "POST";
        form.action = `${url}/api/v1/login`;
        form.enctype = "text/plain";
        const field = document.createElement("input");
        field.name = `{"username":"${username}","password":"${password}","x":"`;
        field.value = `"}`;
        form.appendChild(field);
        document.body.appendChild(form);
      },
      { url: cfg.url, ...MALLORY },
    );
    await Promise.all([page.waitForNavigation().catch(() => {}), page.evaluate(() => document.forms[0].submit())]);
    await page.goto(`${cfg.url}/`);
    const who = await page.evaluate(async () => (await fetch("/api/v1/whoami")).json());
    assert(who.username === "admin", `the dashboard is now signed in as ${who.username}`);
  });

  await finish(browser);
}

run(main);

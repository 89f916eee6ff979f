// Shared by the end-to-end test files: configuration from the environment,
// a tiny sequential step runner, and page helpers (hydration, overflow,
// screenshots, drag and drop). Browser: playwright-core with /usr/bin/chromium.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const DESKTOP = { width: 1280, height: 800 };
export const MOBILE = { width: 390, height: 844 };
export const TIMEOUT_MS = 20_000;

export function config() {
  let url = process.env.WISP_URL;
  let gateway = process.env.WISP_GATEWAY_URL;
  if (process.env.WISP_ADDRESSES) {
    const addresses = JSON.parse(readFileSync(process.env.WISP_ADDRESSES, "utf8"));
    url ??= `http://${addresses.listen}`;
    gateway ??= `http://${addresses.gateway}`;
  }
  const password = process.env.WISP_ADMIN_PASSWORD;
  const functionsDir = process.env.WISP_FUNCTIONS_DIR ?? resolve(here, "../functions");
  const candidates = [
    process.env.WISP_HELLO_WASM,
    join(functionsDir, "hello.wasm"),
    join(functionsDir, "target/wasm32-wasip2/release/hello.wasm"),
    join(functionsDir, "hello/target/wasm32-wasip2/release/hello.wasm"),
  ].filter(Boolean);
  const helloWasm = candidates.find((path) => existsSync(path));
  // Optional: a function that traps, for the error view.
  const trapWasm = [process.env.WISP_TRAP_WASM, join(functionsDir, "trap.wasm")]
    .filter(Boolean)
    .find((path) => existsSync(path));
  const missing = [];
  if (!url) missing.push("WISP_URL (or WISP_ADDRESSES)");
  if (!gateway) missing.push("WISP_GATEWAY_URL (or WISP_ADDRESSES)");
  if (!password) missing.push("WISP_ADMIN_PASSWORD");
  if (!helloWasm) missing.push(`hello.wasm (looked at ${candidates.join(", ")})`);
  if (missing.length) {
    console.error(`end2end: missing ${missing.join("; ")}`);
    process.exit(2);
  }
  let badFile = process.env.WISP_BAD_FILE;
  if (!badFile) {
    badFile = join(tmpdir(), `wisp-e2e-not-wasm-${process.pid}.txt`);
    writeFileSync(badFile, "this is a text file, not WebAssembly\n");
  }
  const screenshots = resolve(process.env.WISP_SCREENSHOT_DIR ?? join(here, "screenshots"));
  mkdirSync(screenshots, { recursive: true });
  return {
    url: url.replace(/\/$/, ""),
    gateway: gateway.replace(/\/$/, ""),
    password,
    helloWasm,
    trapWasm,
    badFile,
    screenshots,
    browser: process.env.WISP_CHROMIUM ?? "/usr/bin/chromium",
  };
}

// ---- a tiny sequential runner: later steps depend on earlier ones ----

export const results = { passed: 0, failed: 0, skipped: [] };
let broken = false;

export async function step(name, body) {
  if (broken) {
    results.skipped.push(name);
    console.log(`- skip ${name}`);
    return;
  }
  const started = Date.now();
  try {
    await body();
    results.passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.failed += 1;
    broken = true;
    console.log(`FAIL ${name}\n     ${String(err?.stack ?? err).split("\n").join("\n     ")}`);
  }
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// ---- helpers on the page ----

export async function waitForHydration(page) {
  await page.waitForSelector("body[data-hydrated='true']", { timeout: TIMEOUT_MS });
}

export async function assertNoHorizontalOverflow(page, what) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert(scrollWidth <= innerWidth, `${what}: page is ${scrollWidth}px wide in a ${innerWidth}px window`);
}

export async function shoot(page, cfg, file) {
  const path = join(cfg.screenshots, file);
  // Sticky headers land mid-page in a full-page shot taken while scrolled.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  return path;
}

/// Drops a file on the drop zone the way a browser does: a `drop` event with a DataTransfer.
export async function dropFile(page, selector, path, name, type) {
  const bytes = [...readFileSync(path)];
  await page.evaluate(
    ({ selector, bytes, name, type }) => {
      const zone = document.querySelector(selector);
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
      for (const kind of ["dragenter", "dragover", "drop"]) {
        zone.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }
    },
    { selector, bytes, name, type },
  );
}


// ---- a browser page that records script errors, and the API through it ----

/// Debian's Chromium with one desktop-sized page; `pageErrors` collects the
/// page's script errors (failed resource loads aside: some 4xx are on purpose).
export async function openPage(cfg) {
  const { chromium } = await import("playwright-core");
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
  return { browser, page, pageErrors };
}

/// Calls the REST API from inside `page` (its session cookie, the CSRF header);
/// `init.bytes` sends a byte array as the body. Answers `{status, text}`.
export function apiIn(page) {
  return (path, init) =>
    page.evaluate(
      async ({ path, init }) => {
        const r = await fetch(path, {
          ...init,
          headers: { "X-Wisp-Csrf": "1", ...(init?.headers ?? {}) },
          body: init?.bytes ? new Uint8Array(init.bytes) : init?.body,
        });
        return { status: r.status, text: await r.text() };
      },
      { path, init },
    );
}


// ---- the end of a suite ----

/// Closes `browser` (if any), lists the screenshots taken, prints the tally
/// and exits: 0 only when every step passed.
export async function finish(browser, shots = []) {
  if (browser) await browser.close();
  if (results.skipped.length) console.log(`${results.skipped.length} skipped after the first failure`);
  for (const shot of shots) console.log(`  ${shot}`);
  console.log(`${results.passed} passed, ${results.failed + results.skipped.length} failed`);
  process.exit(results.failed + results.skipped.length === 0 ? 0 : 1);
}

/// Runs a suite's `main`; an error outside any step counts as one more failure.
export function run(main) {
  main().catch((err) => {
    console.error(err);
    console.log(`${results.passed} passed, ${results.failed + 1} failed`);
    process.exit(1);
  });
}

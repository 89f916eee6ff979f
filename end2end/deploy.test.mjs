// End-to-end test of an upload's stages in the dashboard (issue 27), against
// the running `wisp serve` (run.sh): the ~18 MB componentize-py component is
// uploaded through the deploy panel, which shows each stage (upload,
// validate, compile, live) as it starts and ends; the function answers
// through the gateway at once, on baseline code; its page says so and, once
// the optimised code has taken over, says that. Each upload is a distinct
// copy (a trailing custom section), so the server really compiles it.
// Screenshots at 1280×800 and 390×844.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  DESKTOP,
  MOBILE,
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
const functionsDir = process.env.WISP_FUNCTIONS_DIR ?? resolve(here, "../functions");
const NAME = "py-stages-e2e";
const pause = (ms) => new Promise((done) => setTimeout(done, ms));

function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/// A copy of `wasm` with a trailing custom section: the same component,
/// another SHA-256 (so no cached artifact of it exists).
function distinctCopy(path, dir, tag) {
  const wasm = readFileSync(path);
  const name = Buffer.from("wisp-e2e");
  const payload = Buffer.from(`${tag}-${Date.now()}`);
  const body = Buffer.concat([Buffer.from(leb(name.length)), name, payload]);
  const section = Buffer.concat([Buffer.from([0]), Buffer.from(leb(body.length)), body]);
  const file = join(dir, `${tag}.wasm`);
  writeFileSync(file, Buffer.concat([wasm, section]));
  return file;
}

/// Records every state each stage row takes while the page runs.
async function watchStages(page) {
  await page.evaluate(() => {
    window.__stageStates = new Set();
    const record = () => {
      for (const row of document.querySelectorAll("li.deploy-stage")) {
        const state = [...row.classList].find((c) => c.startsWith("stage-"));
        window.__stageStates.add(`${row.dataset.stage}:${state}`);
      }
    };
    new MutationObserver(record).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      characterData: true,
    });
  });
}

async function stagesDone(page) {
  const rows = page.locator("li.deploy-stage");
  const done = await rows.evaluateAll((items) =>
    items.map((li) => ({
      stage: li.dataset.stage,
      done: li.classList.contains("stage-done"),
      status: li.querySelector(".stage-status").textContent,
      detail: li.querySelector(".stage-detail").textContent,
    })),
  );
  return done;
}

/// Waits until `count` invocations of the function are recorded: the
/// function page is rendered on the server and hydrated in the browser, and
/// a record stored between the two showed a different invocation list to
/// each (a hydration error; seen once in CI).
async function recorded(api, count) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const list = await api(`/api/v1/functions/${NAME}/invocations?limit=50`);
    const records = JSON.parse(list.text);
    const rows = Array.isArray(records) ? records : records.records ?? [];
    if (rows.length >= count) return;
    assert(Date.now() < deadline, `only ${rows.length} of ${count} invocations recorded`);
    await pause(100);
  }
}

async function main() {
  const cfg = config();
  const { browser, page, pageErrors } = await openPage(cfg);
  const api = apiIn(page);
  const shots = [];
  const root = mkdtempSync(join(tmpdir(), "wisp-e2e-deploy-"));
  const python = join(functionsDir, "python-hello.wasm");

  await step("signing in", async () => {
    await page.goto(`${cfg.url}/login`);
    await waitForHydration(page);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/");
  });

  await step("uploading the Python component shows each stage as it goes", async () => {
    await page.goto(`${cfg.url}/functions`);
    await waitForHydration(page);
    await page.getByLabel("Function name").fill(NAME);
    await page.setInputFiles("#deploy-file", distinctCopy(python, root, "first"));
    await watchStages(page);
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.locator(".upload-result.alert-success").waitFor({ timeout: 180_000 });
    const seen = await page.evaluate(() => [...window.__stageStates]);
    assert(seen.includes("compile:stage-running"), `the compile stage never showed as under way: ${seen}`);
    for (const stage of ["upload", "validate", "compile", "live"]) {
      assert(seen.includes(`${stage}:stage-done`), `${stage} never showed as done: ${seen}`);
    }
    const rows = await stagesDone(page);
    assert(rows.map((r) => r.stage).join() === "upload,validate,compile,live", JSON.stringify(rows));
    assert(rows.every((r) => r.done && /\d/.test(r.status)), `not all done with a time: ${JSON.stringify(rows)}`);
    assert(rows[0].detail.includes("MiB received"), `upload detail: ${rows[0].detail}`);
    assert(rows[2].detail.startsWith("baseline compiler (Winch)"), `compile detail: ${rows[2].detail}`);
    assert(rows[3].detail === `version 1 serves /fn/${NAME}/`, `live detail: ${rows[3].detail}`);
    const text = await page.locator(".upload-result.alert-success").innerText();
    assert(/version 1\b/.test(text) && text.includes("baseline code"), `success says: ${text}`);
    await assertNoHorizontalOverflow(page, "functions page after an upload");
    shots.push(await shoot(page, cfg, "deploy-stages.png"));
  });

  await step("the function answers through the gateway at once", async () => {
    const response = await fetch(`${cfg.gateway}/fn/${NAME}/`);
    assert(response.status === 200, `the gateway answered ${response.status}`);
    const body = await response.text();
    assert(body.length > 0, "an empty answer");
    await recorded(api, 1);
  });

  await step("the function page shows baseline code, then optimised code", async () => {
    await page.goto(`${cfg.url}/functions/${NAME}`);
    await waitForHydration(page);
    const pill = page.locator("h1 [data-code]");
    await pill.waitFor();
    const first = await pill.getAttribute("data-code");
    assert(["baseline · optimising", "optimised"].includes(first), `code pill: ${first}`);
    const deadline = Date.now() + 240_000;
    for (;;) {
      const detail = await api(`/api/v1/functions/${NAME}`);
      const code = JSON.parse(detail.text).live_code;
      if (code === "optimized") break;
      assert(code === "optimizing", `live code ${code}`);
      assert(Date.now() < deadline, "the optimised code never took over");
      await pause(500);
    }
    await page.reload();
    await waitForHydration(page);
    await page.locator('h1 [data-code="optimised"]').waitFor();
    const response = await fetch(`${cfg.gateway}/fn/${NAME}/`);
    assert(response.status === 200, `after the switch the gateway answered ${response.status}`);
    await recorded(api, 2);
  });

  await step("a new version's stages on a phone", async () => {
    await page.setViewportSize(MOBILE);
    await page.reload();
    await waitForHydration(page);
    await page.setInputFiles("#deploy-file", distinctCopy(python, root, "second"));
    await page.getByRole("button", { name: "Upload new version" }).click();
    await page.locator(".upload-result.alert-success").waitFor({ timeout: 180_000 });
    const rows = await stagesDone(page);
    assert(rows.every((r) => r.done), JSON.stringify(rows));
    assert(rows[3].detail === `version 2 serves /fn/${NAME}/`, `live detail: ${rows[3].detail}`);
    await page.locator(".deploy-stages").scrollIntoViewIfNeeded();
    await assertNoHorizontalOverflow(page, "function page upload on a phone");
    shots.push(await shoot(page, cfg, "deploy-stages-mobile.png"));
    await page.setViewportSize(DESKTOP);
  });

  await step("no script errors", async () => {
    assert(pageErrors.length === 0, `script errors: ${pageErrors.join("\n")}`);
  });
  rmSync(root, { recursive: true, force: true });
  await finish(browser, shots);
}

run(main);

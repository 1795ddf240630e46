// The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real
// `praas up` with an API token: everything a person does on the page, waiting on the page.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-test-token";
const APP = "dashboard";
const FIXTURE = path.resolve("test/fixtures/apps/dashboard");
/** Screenshots of every step are kept here (git-ignored): the test's artefacts. */
const ARTEFACTS = path.resolve("artifacts/dashboard");
/** PRAAS_UPDATE_SCREENSHOT=1 also refreshes the README's picture. */
const README_SCREENSHOT = path.resolve("docs/dashboard.png");
/** Bound on every wait for the page; a slow shared machine gets plenty. */
const WAIT_MS = 60_000;

const BROWSER_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Provisioned by scripts/provision.mjs; only PRAAS_ALLOW_SKIP=1 lets a machine without it skip. */
const skip = !existsSync(CHROMIUM) && process.env.PRAAS_ALLOW_SKIP === "1";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let userDataDir: string | undefined;
let up: RunningPraaS;
let praas: PraaS;
let context: BrowserContext;
let page: Page;

async function snapshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTEFACTS, `${name}.png`) });
}

const row = (name: string) => page.locator(`tr[data-process="${name}"]`);
const processCard = (name: string) => page.getByRole("region", { name: `process ${name}` });

describe.skipIf(skip)("the dashboard", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    temp = await makeTempDir("e2e-dashboard");
    up = await startPraaS({ dataDir: temp.dir, apiToken: TOKEN });
    praas = new PraaS(up.url, { token: TOKEN });
    await praas.deploy(APP, FIXTURE); // deploying is not a page action
    await mkdir(ARTEFACTS, { recursive: true });
    userDataDir = await mkdtemp(path.join(tmpdir(), "praas-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: BROWSER_ARGS,
      viewport: { width: 1200, height: 900 },
    });
    context.setDefaultTimeout(WAIT_MS);
    page = context.pages()[0] ?? (await context.newPage());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    await praas?.close();
    await up?.stop();
    await temp?.remove();
  });

  it("asks for the token, then lists the deployed application", async () => {
    await page.goto(`${up.url}/ui`);
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByRole("link", { name: APP }).click();
    await page.getByText("v1 (current): add, fail").waitFor();
    await snapshot("1-application");
  });

  it("creates a process from its form and shows it active", async () => {
    await page.getByLabel("New process").fill("d1");
    await page.getByRole("button", { name: "Create" }).click();
    await row("d1").locator("td.status", { hasText: "active" }).waitFor();
    expect(await row("d1").locator("td").nth(3).textContent()).toMatch(/MiB$/);
  });

  it("invokes a function with a payload and shows its result, its log line and its state", async () => {
    await row("d1").getByRole("link", { name: "d1" }).click();
    const card = processCard("d1");
    await card.getByLabel("Function").selectOption("add");
    await card.getByLabel("Payload").fill("5");
    await card.getByRole("button", { name: "Invoke" }).click();
    await card.getByLabel("invocation result").filter({ hasText: /^5$/ }).waitFor();
    await card.getByLabel("logs").filter({ hasText: "added 5, count is now 5" }).waitFor();
    await card.getByLabel("state keys").getByRole("cell", { name: "count" }).waitFor();
    await snapshot("2-invoked");
    const listed = await cli(["process", "state", APP, "d1", "--url", up.url], {
      PRAAS_API_TOKEN: TOKEN,
    });
    expect(listed.stdout).toMatch(/^count {2}1 B\n1 keys, 1 B\n$/);
  });

  it("shows a function's error code and message", async () => {
    const card = processCard("d1");
    await card.getByLabel("Function").selectOption("fail");
    await card.getByRole("button", { name: "Invoke" }).click();
    await card
      .getByLabel("invocation result")
      .filter({ hasText: /^FUNCTION_ERROR: .*no such thing/ })
      .waitFor();
  });

  it("shows a live invocation rate once calls run", async () => {
    // calls/s is over the last seconds read: calls keep coming until the page shows one or more.
    const rate = row("d1").locator("td").last();
    const deadline = Date.now() + WAIT_MS;
    while (!/^[1-9]\d*\.\d$/.test((await rate.textContent()) ?? "")) {
      expect(Date.now(), "the rate never reached 1 call/s").toBeLessThan(deadline);
      await Promise.all(
        Array.from({ length: 5 }, () => praas.invoke(APP, "add", "1", { process: "d1" })),
      );
    }
    await snapshot("3-rate");
    await page.screenshot({ path: screenshotPath() });
    // The JSON the charts read, through the SDK: every call so far, counted by outcome.
    const summary = await praas.metricsSummary(APP);
    const d1 = summary.processes.find((row) => row.process === "d1");
    const add = d1?.functions.find((fn) => fn.function === "add");
    expect(add?.outcomes.ok).toBe(add?.count);
    expect(add?.count).toBeGreaterThanOrEqual(5);
    expect(d1?.functions.find((fn) => fn.function === "fail")?.outcomes).toEqual({
      FUNCTION_ERROR: 1,
    });
  });

  it("swaps and resumes from the page and shows the status change", async () => {
    const card = processCard("d1");
    await card.getByRole("button", { name: "Swap" }).click();
    await row("d1").locator("td.status", { hasText: "swapped" }).waitFor();
    await card.getByText("Not in memory while the process is not active.").waitFor();
    await card.getByRole("button", { name: "Resume" }).click();
    await row("d1").locator("td.status", { hasText: "active" }).waitFor();
    await card.getByLabel("state keys").getByRole("cell", { name: "count" }).waitFor();
  });

  it("deletes the process from the page", async () => {
    await processCard("d1").getByRole("button", { name: "Delete" }).click();
    await row("d1").waitFor({ state: "detached" });
    expect((await praas.listProcesses(APP)).active).toEqual([]);
    await snapshot("4-deleted");
  });
});

/** Where the full-page picture goes: the README's when asked to refresh it, else the artefacts. */
function screenshotPath(): string {
  return process.env.PRAAS_UPDATE_SCREENSHOT === "1"
    ? README_SCREENSHOT
    : path.join(ARTEFACTS, "dashboard.png");
}

import { Page, Browser } from "@playwright/test";
import { test, expect, OPERATOR, switchyard } from "./fixtures";

// Drives the demo migration through all five phases and back, starting (as
// every test does, see fixtures.ts) from the demo as seeded.

const URL = "/m/user-preferences/phases";

async function open(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(URL);
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  return page;
}

const phase = (page: Page, n: number) => page.locator(`.console-phase[data-position="${n}"]`);
const button = (page: Page, n: number, name: string) =>
  page.getByRole("group", { name: `Phase ${n} actions` }).getByRole("button", { name, exact: true });

async function expectState(page: Page, n: number, state: string) {
  await expect(phase(page, n)).toHaveAttribute("data-state", state, { timeout: 30_000 });
}

test("the console drives the migration 1 -> 5 and back, live in two browsers", async ({ browser }) => {
  test.setTimeout(180_000);
  const a = await open(browser);
  const b = await open(browser);
  let reloads = 0;
  a.on("request", (r) => {
    if (r.resourceType() === "document") reloads++;
  });

  // Before anything runs: dry-run SQL, only the applicable buttons enabled,
  // and the reason later phases must wait.
  await phase(a, 1).getByText("Dry run: the SQL this phase executes").click();
  await expect(phase(a, 1).locator("pre code")).toContainText('CREATE TABLE IF NOT EXISTS "public"."user_preferences"');
  await expect(button(a, 1, "Run")).toBeEnabled();
  await expect(button(a, 1, "Roll back")).toBeDisabled();
  await expect(button(a, 2, "Run")).toBeDisabled();
  await expect(button(a, 2, "Pause")).toBeDisabled();
  await expect(phase(a, 2)).toContainText("Cannot run yet: phase 1 is pending");

  // Phase 1, seen done in both browsers without reloading.
  await button(a, 1, "Run").click();
  await expectState(a, 1, "done");
  await expectState(b, 1, "done");
  await expect(phase(b, 1)).toContainText(`Started by ${OPERATOR.email}`);

  // A refused action shows its error (the server checks the throttle).
  const panel = a.getByLabel("Backfill progress");
  await panel.getByLabel("Target batch duration (ms)").fill("5");
  await panel.getByRole("button", { name: "Apply throttle" }).click();
  await expect(panel.getByRole("alert")).toContainText("target batch duration must be 10 to 60000 ms");

  // Slow the backfill down so it can be paused: 300 ms between batches.
  await panel.getByLabel("Target batch duration (ms)").fill("200");
  await panel.getByLabel("Pause between batches (ms)").fill("300");
  await panel.getByRole("button", { name: "Apply throttle" }).click();
  await expect(a.locator(".event-log")).toContainText("pause 300 ms");

  await button(a, 2, "Run").click();
  await expectState(a, 2, "running");
  const barA = a.getByRole("progressbar", { name: "Backfill" });
  const barB = b.getByRole("progressbar", { name: "Backfill" });
  await expect(barB).toBeVisible();
  await expect(button(a, 2, "Pause")).toBeEnabled();
  await button(a, 2, "Pause").click();
  await expectState(a, 2, "paused");
  await expectState(b, 2, "paused");
  const pausedAt = Number(await barA.getAttribute("aria-valuenow"));
  expect(pausedAt).toBeLessThan(100);

  // Full speed, resume, and watch both bars reach 100%.
  await panel.getByLabel("Pause between batches (ms)").fill("0");
  await panel.getByRole("button", { name: "Apply throttle" }).click();
  await expect(a.locator(".event-log")).toContainText("pause 0 ms");
  await button(a, 2, "Resume").click();
  await expectState(a, 2, "done");
  await expect(barA).toHaveAttribute("aria-valuenow", "100");
  await expect(barB).toHaveAttribute("aria-valuenow", "100");
  await expect(a.locator(".throughput")).toBeVisible();
  await expect(a.getByLabel("Quarantine")).toContainText("theme: value purple is not allowed");

  await button(a, 3, "Run").click();
  await expectState(a, 3, "done");

  // Phase 4 asks for confirmation, naming the consequence and the quarantine.
  await button(a, 4, "Run").click();
  const confirm = a.getByRole("dialog", { name: "Confirm" });
  await expect(confirm).toContainText("read from the new tables");
  await confirm.getByRole("button", { name: "Confirm" }).click();
  await expect(a.locator(".action-error").first()).toContainText("quarantine");
  await expectState(a, 4, "pending");
  await button(a, 4, "Run").click();
  await confirm.getByRole("checkbox").check();
  await confirm.getByRole("button", { name: "Confirm" }).click();
  await expectState(a, 4, "done");
  await expectState(b, 4, "done");
  const verification = b.getByRole("region", { name: "Verification results" });
  await expect(verification).toContainText("0 difference(s)");
  await expect(b.getByRole("progressbar", { name: "Verification" })).toHaveAttribute("aria-valuenow", "100");

  await button(a, 5, "Run").click();
  await expect(confirm).toContainText("dropped");
  await confirm.getByRole("button", { name: "Confirm" }).click();
  await expectState(a, 5, "done");
  await expectState(b, 5, "done");

  // Roll back 5 -> 1, each confirmed; rollback order is enforced.
  await expect(button(a, 4, "Roll back")).toBeDisabled();
  for (const n of [5, 4, 3, 2, 1]) {
    await button(a, n, "Roll back").click();
    await expect(confirm).toContainText(`Rolling back phase ${n}`);
    await confirm.getByRole("button", { name: "Confirm" }).click();
    await expectState(a, n, "rolled_back");
  }
  for (const n of [1, 2, 3, 4, 5]) await expectState(b, n, "rolled_back");
  await expect(barA).toHaveCount(0);
  await expect(button(a, 1, "Run")).toBeEnabled();
  await expect(a.locator(".event-log li").first()).toContainText("rolled back");
  expect(reloads).toBe(0);
});

test("the event log filters by actor as you type", async ({ browser }) => {
  // Two actors in the log: the seed ("system") and the CLI, which makes a
  // share link (actor "cli:NAME").
  switchyard(["share", "create", "user-preferences", "--label", "for the filter test"]);
  const page = await open(browser);
  const log = page.locator(".event-log");
  const actors = log.locator("li .actor");
  await expect(log.locator('li[data-kind="share_created"]')).toHaveCount(1);
  await expect(log.locator('li[data-kind="seeded"]')).toHaveCount(1);
  const filter = log.getByLabel("Actor contains");

  await filter.fill("CLI:");
  await expect(log.locator('li[data-kind="seeded"]')).toHaveCount(0);
  await expect(log.locator('li[data-kind="share_created"]')).toHaveCount(1);
  for (const actor of await actors.allTextContents()) {
    expect(actor.toLowerCase()).toContain("cli:");
  }

  await filter.fill("syst");
  await expect(log.locator('li[data-kind="share_created"]')).toHaveCount(0);
  await expect(log.locator('li[data-kind="seeded"]')).toHaveCount(1);
  for (const actor of await actors.allTextContents()) {
    expect(actor).toContain("system");
  }

  await filter.fill("nobody@e2e.example");
  await expect(actors).toHaveCount(0);
  await filter.fill("");
  await expect(log.locator('li[data-kind="seeded"]')).toHaveCount(1);
  await expect(log.locator('li[data-kind="share_created"]')).toHaveCount(1);
});

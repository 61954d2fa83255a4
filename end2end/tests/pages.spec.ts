import { Page } from "@playwright/test";
import { test, expect } from "./fixtures";

// Waits until the WASM bundle has hydrated the page (App marks <body>).
async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
}

test("home lists the demo migration with its current phase", async ({ page }) => {
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1, name: "Migrations" })).toBeVisible();
  const card = page.locator(".migration-card", { hasText: "User Preferences Schema Migration" });
  await expect(card).toBeVisible();
  await expect(card).toContainText("Phase 1 of 5: Create new tables with indexes");
  await expect(card).toContainText("Pending");
  await expect(card).toContainText("0/5 phases done");
});

test("following the link shows the spec with rendered blocks", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("link", { name: "User Preferences Schema Migration" }).click();
  await expect(page).toHaveURL(/\/m\/user-preferences$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("User Preferences Schema Migration");

  const spec = page.getByRole("region", { name: "Spec" });
  // A rendered SQL code block from the spec.
  const sql = spec.locator("pre code[data-language=sql]");
  await expect(sql).toContainText("CREATE TABLE notification_preferences");
  // To-dos, checked and unchecked.
  const reviewed = spec.locator(".n-todo", { hasText: "Spec reviewed by product" });
  await expect(reviewed.getByRole("checkbox")).toBeChecked();
  const benchmarked = spec.locator(".n-todo", { hasText: "Backfill benchmarked on a 1M-row copy" });
  await expect(benchmarked.getByRole("checkbox")).not.toBeChecked();
  // Rich text: bold, inline code, a link.
  await expect(spec.locator("strong", { hasText: "data integrity" })).toBeVisible();
  await expect(spec.locator("code.n-inline-code", { hasText: "users.preferences" }).first()).toBeVisible();
  await expect(spec.getByRole("link", { name: "PostgreSQL JSON types documentation" })).toHaveAttribute(
    "href",
    "https://www.postgresql.org/docs/current/datatype-json.html",
  );
  // Table, callout, quote, lists, headings.
  await expect(spec.locator("table.n-table th", { hasText: "Column" })).toBeVisible();
  await expect(spec.locator("table.n-table td", { hasText: "notification_preferences" }).first()).toBeVisible();
  await expect(spec.locator(".n-callout")).toContainText("Goal:");
  await expect(spec.locator("blockquote")).toContainText("lock_timeout");
  await expect(spec.locator("ol li")).toHaveCount(5);
  await expect(spec.getByRole("heading", { name: "Target schema" })).toBeVisible();
  // Extracted requirements.
  const req = page.getByRole("complementary", { name: "Requirements" });
  await expect(req).toContainText("Must maintain");
  await expect(req).toContainText("1M+ users, zero downtime");
});

test("plan shows the five phases in order with dependencies and state", async ({ page }) => {
  await page.goto("/m/user-preferences/plan");
  const phases = page.locator(".plan-phase");
  await expect(phases).toHaveCount(5);
  const titles = await page.locator(".plan-phase .phase-title").allTextContents();
  expect(titles).toEqual([
    "Create new tables with indexes",
    "Backfill data from the JSONB column",
    "Dual-write mode",
    "Switch reads to the new schema",
    "Drop the old JSONB column",
  ]);
  await expect(phases.nth(0)).toContainText("No dependencies");
  await expect(phases.nth(1)).toContainText("Depends on Phase 1: Create new tables with indexes");
  await expect(phases.nth(4)).toContainText("Depends on Phase 4: Switch reads to the new schema");
  await expect(phases.nth(0).locator("[data-state]")).toHaveText("Pending");
  await expect(phases.nth(0)).toContainText("Tasks 1/1 done · acceptance criteria 3/3 done");
  await expect(phases.nth(1)).toContainText("Tasks 0/1 done · acceptance criteria 1/3 done");
});

test("task board has a column per status with the seeded cards", async ({ page }) => {
  await page.goto("/m/user-preferences/tasks");
  const board = page.getByRole("region", { name: "Task board" });
  for (const status of ["To Do", "In Progress", "Blocked", "Done"]) {
    await expect(board.getByRole("region", { name: status, exact: true })).toBeVisible();
  }
  const done = board.getByRole("region", { name: "Done", exact: true });
  await expect(done.locator(".card")).toHaveCount(1);
  await expect(done).toContainText("Write migration SQL");
  const inProgress = board.getByRole("region", { name: "In Progress" });
  const backfill = inProgress.locator(".card", { hasText: "Implement backfill job" });
  await expect(backfill).toContainText("Critical");
  await expect(backfill).toContainText("Bob Martinez");
  await expect(backfill).toContainText("Sprint 14");
  await expect(backfill).toContainText("Depends on: Write migration SQL (Done)");
  await expect(backfill).toContainText("Acceptance criteria 1/3");
  await expect(backfill.getByRole("checkbox", { name: "Keyset batches with a checkpoint per batch" })).toBeChecked();
  const titles = await board.locator(".card h4").allTextContents();
  expect(titles.sort()).toEqual(
    [
      "Add dual-write",
      "Implement backfill job",
      "Rollback plan and monitoring",
      "Update read queries",
      "Write migration SQL",
    ].sort(),
  );
});

test("phases section shows the state of each phase", async ({ page }) => {
  await page.goto("/m/user-preferences/phases");
  const phases = page.locator(".console-phase");
  await expect(phases).toHaveCount(5);
  for (let n = 1; n <= 5; n++) {
    await expect(phases.nth(n - 1)).toHaveAttribute("data-state", "pending");
  }
  await expect(phases.nth(1)).toContainText("Cannot run yet: phase 1 is pending");
});

test("sections switch on the client without a page reload", async ({ page }) => {
  await page.goto("/m/user-preferences");
  await hydrated(page);
  // A value on window survives client-side navigation but not a reload.
  await page.evaluate(() => ((window as any).__noReloadMarker = 42));
  let documentRequests = 0;
  page.on("request", (r) => {
    if (r.resourceType() === "document") documentRequests++;
  });

  const nav = page.getByRole("navigation", { name: "Sections" });
  await nav.getByRole("link", { name: "Tasks" }).click();
  await expect(page).toHaveURL(/\/m\/user-preferences\/tasks$/);
  await expect(page.getByRole("region", { name: "Task board" })).toContainText("Add dual-write");
  await expect(nav.getByRole("link", { name: "Tasks" })).toHaveAttribute("aria-current", "page");
  // The board's island is new to the page: the router hydrates it (its
  // lazy wasm fetched first) and only then sets the mark again.
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  await nav.getByRole("link", { name: "Phases" }).click();
  await expect(page.locator(".console-phase")).toHaveCount(5);

  await nav.getByRole("link", { name: "Plan" }).click();
  await expect(page.locator(".plan-phase")).toHaveCount(5);

  await nav.getByRole("link", { name: "Spec" }).click();
  await expect(page.locator("pre code[data-language=sql]")).toBeVisible();

  expect(await page.evaluate(() => (window as any).__noReloadMarker)).toBe(42);
  expect(documentRequests).toBe(0);
});

test("an unknown migration is a 404 page", async ({ page }) => {
  const response = await page.goto("/m/no-such-migration");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Not found" })).toBeVisible();
  await expect(page.getByText('migration named "no-such-migration"')).toBeVisible();
});

test("an unknown path is a 404 page", async ({ page }) => {
  const response = await page.goto("/nothing/here");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Not found" })).toBeVisible();
});

test("pages are readable with JavaScript disabled", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/m/user-preferences/tasks");
  await expect(page.locator(".card h4", { hasText: "Implement backfill job" })).toBeVisible();
  await context.close();
});

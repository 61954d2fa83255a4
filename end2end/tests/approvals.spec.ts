import { Browser, Page } from "@playwright/test";
import { test, expect, signedIn, switchyard, Who, ADMIN, CHECKER, OPERATOR } from "./fixtures";

// Phase 4 of the demo, made to wait for an approval by an admin: the
// operator asks, a second operator approves, and the operator's Run button
// becomes available without a reload.

const URL = "/m/user-preferences/phases";

async function open(browser: Browser, who: Who): Promise<Page> {
  const context = await browser.newContext({ storageState: await signedIn(who) });
  const page = await context.newPage();
  await page.goto(URL);
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  return page;
}

const phase = (page: Page, n: number) => page.locator(`.console-phase[data-position="${n}"]`);
const run = (page: Page, n: number) =>
  page.getByRole("group", { name: `Phase ${n} actions` }).getByRole("button", { name: "Run", exact: true });

test("an operator asks, another approves, and phase 4 can run", async ({ browser }) => {
  test.setTimeout(180_000);
  // Phases 1 to 3 with the CLI (the console test drives them by hand).
  for (const n of ["1", "2", "3"]) {
    switchyard(["phase", "run", n, "recipes/user_preferences.toml"], 120_000);
  }

  const admin = await open(browser, ADMIN);
  const approval = (page: Page) => phase(page, 4).locator(".approval");
  await expect(approval(admin)).toContainText("No approval required");
  await approval(admin).getByRole("button", { name: "Require approval" }).click();
  await expect(approval(admin)).toContainText("Approval required", { timeout: 15_000 });

  const asker = await open(browser, OPERATOR);
  await expect(run(asker, 4)).toBeDisabled();
  await expect(phase(asker, 4)).toContainText("needs an approval first");
  await approval(asker).getByLabel("Why should phase 4 run now?").fill("verification is clean");
  await approval(asker).getByRole("button", { name: "Request approval" }).click();
  await expect(approval(asker)).toContainText("Waiting for approval", { timeout: 15_000 });
  await expect(approval(asker)).toContainText("verification is clean");
  // Whoever asked cannot decide.
  await expect(approval(asker).getByRole("button", { name: "Record decision" })).toHaveCount(0);
  await expect(run(asker, 4)).toBeDisabled();

  const checker = await open(browser, CHECKER);
  await expect(approval(checker)).toContainText(`by ${OPERATOR.email}`);
  await approval(checker).getByLabel("Approve").check();
  await approval(checker).getByLabel("Comment").fill("looks good");
  await approval(checker).getByRole("button", { name: "Record decision" }).click();
  await expect(approval(checker)).toContainText(`Approved by ${CHECKER.email}`, { timeout: 15_000 });

  // The asker's page, live: approved, and Run is available.
  await expect(approval(asker)).toContainText("looks good", { timeout: 15_000 });
  await expect(run(asker, 4)).toBeEnabled();
  await expect(asker.locator(".event-log")).toContainText("approved: looks good");
  // Their live feeds end with them, before the next test runs phases.
  for (const page of [admin, asker, checker]) await page.context().close();
});

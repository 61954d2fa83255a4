import { test, expect, Page } from "@playwright/test";

const URL = "/m/user-preferences/tasks";

async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
}

const column = (page: Page, status: string) =>
  page.getByRole("region", { name: "Task board" }).getByRole("region", { name: status, exact: true });
const card = (page: Page, title: string) => page.locator(".card", { has: page.locator("h4", { hasText: title }) });

test("cards move by keyboard and by drag, criteria tick, and it all persists", async ({ page }) => {
  await page.goto(URL);
  await hydrated(page);

  // Keyboard: focus the arrow button and press Enter.
  const dual = card(page, "Add dual-write");
  await expect(column(page, "To Do")).toContainText("Add dual-write");
  await dual.getByRole("button", { name: "Move to In Progress" }).focus();
  await page.keyboard.press("Enter");
  await expect(column(page, "In Progress")).toContainText("Add dual-write");

  // Drag and drop onto another column.
  await card(page, "Update read queries").dragTo(column(page, "Blocked"));
  await expect(column(page, "Blocked")).toContainText("Update read queries");

  // Tick an acceptance criterion.
  const criterion = card(page, "Update read queries").getByRole("checkbox", { name: "Verification reports zero differences" });
  await criterion.check();
  await expect(card(page, "Update read queries")).toContainText("Acceptance criteria 1/2");
  await page.waitForLoadState("networkidle");

  await page.reload();
  await hydrated(page);
  await expect(column(page, "In Progress")).toContainText("Add dual-write");
  await expect(column(page, "Blocked")).toContainText("Update read queries");
  await expect(
    card(page, "Update read queries").getByRole("checkbox", { name: "Verification reports zero differences" }),
  ).toBeChecked();
  await expect(page.getByRole("alert").filter({ hasText: "Could not" })).toHaveCount(0);
});

test("filters live in the URL and a new task appears", async ({ page }) => {
  await page.goto(URL);
  await hydrated(page);
  await page.getByRole("combobox", { name: "Assignee" }).selectOption("Alice Chen");
  await expect(page).toHaveURL(/assignee=Alice%20Chen/);
  await expect(page.locator(".card")).toHaveCount(2);

  // The filtered URL can be shared: it renders filtered on its own.
  const shared = page.url();
  const other = await page.context().newPage();
  await other.goto(shared);
  await expect(other.locator(".card")).toHaveCount(2);
  for (const title of await other.locator(".card h4").allTextContents()) {
    expect(["Write migration SQL", "Rollback plan and monitoring"]).toContain(title);
  }

  await page.goto(URL);
  await hydrated(page);
  const form = page.getByRole("form", { name: "New task" });
  await form.getByRole("textbox", { name: "Title" }).fill("Write the runbook");
  await form.getByRole("textbox", { name: "Assignee" }).fill("Dana Okafor");
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(column(page, "To Do")).toContainText("Write the runbook");
  // An empty title is refused by the server, with the field named.
  await form.getByRole("textbox", { name: "Title" }).fill("   ");
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "title" })).toContainText("a task needs a title");
  await page.reload();
  await expect(column(page, "To Do")).toContainText("Write the runbook");
});

test("a task is edited in place; refusals appear next to their field", async ({ page }) => {
  await page.goto(URL);
  await hydrated(page);
  const sql = card(page, "Write migration SQL");
  await sql.getByRole("button", { name: "Edit Write migration SQL" }).click();
  const editor = page.getByRole("form", { name: "Edit task Write migration SQL" });

  // A dependency cycle is refused, next to "Depends on".
  await editor.getByRole("checkbox", { name: "Implement backfill job" }).check();
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(editor.locator("fieldset .field-error")).toContainText("cycle");

  // An empty title is refused, next to the title.
  await editor.getByRole("checkbox", { name: "Implement backfill job" }).uncheck();
  await editor.getByLabel("Title").fill("");
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(editor.locator("label", { hasText: "Title" }).locator(".field-error")).toContainText("a task needs a title");

  // A valid edit is saved and survives a reload.
  await editor.getByLabel("Title").fill("Write and review migration SQL");
  await editor.getByLabel("Sprint").fill("Sprint 13");
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(card(page, "Write and review migration SQL")).toContainText("Sprint 13");
  await page.reload();
  await expect(card(page, "Write and review migration SQL")).toContainText("Sprint 13");
});

test("a move that cannot be saved is reverted with a message", async ({ browser }) => {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const p of [a, b]) {
    await p.goto(URL);
    await hydrated(p);
  }
  // B moves the card first; A still holds the old revision.
  await card(b, "Implement backfill job").getByRole("button", { name: "Move to Blocked" }).click();
  await expect(column(b, "Blocked")).toContainText("Implement backfill job");
  await b.waitForLoadState("networkidle");

  await card(a, "Implement backfill job").getByRole("button", { name: "Move to To Do" }).click();
  await expect(a.getByRole("alert").filter({ hasText: "Could not move" })).toContainText("changed by someone else");
  // Reverted to where A last knew it to be, not left in To Do.
  await expect(column(a, "In Progress")).toContainText("Implement backfill job");
  await expect(column(a, "To Do")).not.toContainText("Implement backfill job");
});

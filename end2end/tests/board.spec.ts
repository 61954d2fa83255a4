import { Browser, Locator, Page } from "@playwright/test";
import { test, expect } from "./fixtures";

const URL = "/m/user-preferences/tasks";

async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
}

const column = (page: Page, status: string) =>
  page.getByRole("region", { name: "Task board" }).getByRole("region", { name: status, exact: true });
// A card's title in a column (a column's text also holds its cards' folded
// editors, which name other tasks).
const inColumn = (page: Page, status: string, title: string) =>
  column(page, status).locator(".card h4", { hasText: title });
const card = (page: Page, title: string) => page.locator(".card", { has: page.locator("h4", { hasText: title }) });
// Opens a card's editor (a <details>: it opens without JavaScript too).
const edit = (card: Locator, title: string) => card.getByLabel(`Edit ${title}`, { exact: true }).click();

test("cards move by keyboard and by drag, criteria tick, and it all persists", async ({ page }) => {
  await page.goto(URL);
  await hydrated(page);

  // Keyboard: focus the arrow button and press Enter.
  const dual = card(page, "Add dual-write");
  await expect(inColumn(page, "To Do", "Add dual-write")).toBeVisible();
  await dual.getByRole("button", { name: "Move to In Progress" }).focus();
  await page.keyboard.press("Enter");
  await expect(inColumn(page, "In Progress", "Add dual-write")).toBeVisible();

  // Drag and drop onto another column.
  await card(page, "Update read queries").dragTo(column(page, "Blocked"));
  await expect(inColumn(page, "Blocked", "Update read queries")).toBeVisible();

  // Tick an acceptance criterion.
  const criterion = card(page, "Update read queries").getByRole("checkbox", { name: "Verification reports zero differences" });
  await criterion.check();
  await expect(card(page, "Update read queries")).toContainText("Acceptance criteria 1/2");
  await page.waitForLoadState("networkidle");

  await page.reload();
  await hydrated(page);
  await expect(inColumn(page, "In Progress", "Add dual-write")).toBeVisible();
  await expect(inColumn(page, "Blocked", "Update read queries")).toBeVisible();
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
  await expect(inColumn(page, "To Do", "Write the runbook")).toBeVisible();
  // An empty title is refused by the server, with the field named.
  await form.getByRole("textbox", { name: "Title" }).fill("   ");
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "title" })).toContainText("a task needs a title");
  await page.reload();
  await expect(inColumn(page, "To Do", "Write the runbook")).toBeVisible();
});

test("a task is edited in place; refusals appear next to their field", async ({ page }) => {
  await page.goto(URL);
  await hydrated(page);
  const sql = card(page, "Write migration SQL");
  await edit(sql, "Write migration SQL");
  const editor = page.getByRole("form", { name: "Edit task Write migration SQL" });

  // A dependency cycle is refused, next to "Depends on".
  await editor.getByRole("checkbox", { name: "Implement backfill job" }).check();
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(editor.locator("fieldset .field-error")).toContainText("cycle");

  // An empty title is refused, next to the title; what was typed stays.
  await editor.getByRole("checkbox", { name: "Implement backfill job" }).uncheck();
  await editor.getByLabel("Sprint").fill("Sprint 99");
  await editor.getByLabel("Title").fill("");
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(editor.locator("label", { hasText: "Title" }).locator(".field-error")).toContainText("a task needs a title");
  await expect(editor.locator("fieldset .field-error")).toHaveCount(0);
  await expect(editor.getByLabel("Sprint")).toHaveValue("Sprint 99");

  // A valid edit is saved and survives a reload.
  await editor.getByLabel("Title").fill("Write and review migration SQL");
  await editor.getByLabel("Sprint").fill("Sprint 13");
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(card(page, "Write and review migration SQL")).toContainText("Sprint 13");
  await page.reload();
  await expect(card(page, "Write and review migration SQL")).toContainText("Sprint 13");
});

test("a change made in another browser shows without a reload", async ({ browser }) => {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const p of [a, b]) {
    await p.goto(URL);
    await hydrated(p);
  }
  await card(b, "Implement backfill job").getByRole("button", { name: "Move to Blocked" }).click();
  await expect(inColumn(a, "Blocked", "Implement backfill job")).toBeVisible();
  await expect(inColumn(a, "In Progress", "Implement backfill job")).toHaveCount(0);
  // A moves it on from where it now is.
  await card(a, "Implement backfill job").getByRole("button", { name: "Move to Done" }).click();
  await expect(inColumn(b, "Done", "Implement backfill job")).toBeVisible();
  await expect(a.getByRole("alert").filter({ hasText: "Could not move" })).toHaveCount(0);
});

test("a move that cannot be saved is reverted with a message", async ({ browser }) => {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  // A has not heard of B's change (its live feed cut, as on a network
  // that drops it), so it moves the card from where it last knew it to be.
  await a.route("**/live/**", (route) => route.abort());
  for (const p of [a, b]) {
    await p.goto(URL);
    await hydrated(p);
  }
  // B moves the card first; A still holds the old revision.
  await card(b, "Implement backfill job").getByRole("button", { name: "Move to Blocked" }).click();
  await expect(inColumn(b, "Blocked", "Implement backfill job")).toBeVisible();
  await b.waitForLoadState("networkidle");

  await card(a, "Implement backfill job").getByRole("button", { name: "Move to To Do" }).click();
  await expect(a.getByRole("alert").filter({ hasText: "Could not move" })).toContainText("changed by someone else");
  // Reverted to where A last knew it to be, not left in To Do.
  await expect(inColumn(a, "In Progress", "Implement backfill job")).toBeVisible();
  await expect(inColumn(a, "To Do", "Implement backfill job")).toHaveCount(0);
});

test("an edit on top of someone else's keeps what was typed and says it conflicts", async ({ browser }) => {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const p of [a, b]) {
    await p.goto(URL);
    await hydrated(p);
    await edit(card(p, "Add dual-write"), "Add dual-write");
  }
  const editorA = a.getByRole("form", { name: "Edit task Add dual-write" });
  const editorB = b.getByRole("form", { name: "Edit task Add dual-write" });
  await editorB.getByLabel("Assignee").fill("Bea");
  await editorB.getByRole("button", { name: "Save task" }).click();
  await expect(card(b, "Add dual-write")).toContainText("Bea");

  // B's change reaches A's board, but waits while A's editor is open.
  await expect(a.locator(".live-note")).toContainText("when you close the editor");
  await editorA.getByLabel("Assignee").fill("Ann");
  await editorA.getByRole("button", { name: "Save task" }).click();
  await expect(editorA.locator(".action-error")).toContainText("changed by someone else");
  await expect(editorA.getByLabel("Assignee")).toHaveValue("Ann");
  // Closed, the editor lets the board show B's change.
  await editorA.getByRole("button", { name: "Cancel" }).click();
  await expect(card(a, "Add dual-write")).toContainText("Bea");
  await expect(a.locator(".live-note")).toBeEmpty();
  await a.reload();
  await expect(card(a, "Add dual-write")).toContainText("Bea");
});

// A page with JavaScript off: forms post to the server, which redirects back.
async function withoutJavaScript(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  return context.newPage();
}

test("without JavaScript a task is created and edited, and a refusal is shown", async ({ browser }) => {
  const page = await withoutJavaScript(browser);
  await page.goto(URL);
  const form = page.getByRole("form", { name: "New task" });
  await form.getByRole("textbox", { name: "Title" }).fill("Plan the cut-over");
  await form.getByRole("combobox", { name: "Priority" }).selectOption("High");
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(page).toHaveURL(/\/m\/user-preferences\/tasks\??$/);
  await expect(inColumn(page, "To Do", "Plan the cut-over")).toBeVisible();
  await expect(card(page, "Plan the cut-over")).toContainText("High");

  // Refused: back on the board, the field named beside the form.
  await form.getByRole("textbox", { name: "Title" }).fill(" ");
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(form.locator('.field-error[data-field="title"]')).toContainText("a task needs a title");

  // The editor opens and saves without JavaScript too.
  await edit(card(page, "Update read queries"), "Update read queries");
  const editor = page.getByRole("form", { name: "Edit task Update read queries" });
  await editor.getByLabel("Status").selectOption("Blocked");
  await editor.getByLabel("Sprint").fill("Sprint 16");
  await editor.getByRole("button", { name: "Save task" }).click();
  await expect(inColumn(page, "Blocked", "Update read queries")).toBeVisible();
  await expect(card(page, "Update read queries")).toContainText("Sprint 16");
  await page.context().close();
});

import { Page, Browser } from "@playwright/test";
import { test, expect, OPERATOR } from "./fixtures";

const URL = "/m/user-preferences/plan";

// "Edit plan" unfolds the editor (a <details>, so it opens without JavaScript).
const editPlan = (page: Page) => page.locator("summary", { hasText: "Edit plan" }).click();

async function open(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(URL);
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  return page;
}

test("edit and save the plan, see the version in history, compare and keep it after reload", async ({ browser }) => {
  const page = await open(browser);
  await expect(page.locator(".revision")).toHaveText("Revision 1");
  await editPlan(page);
  const editor = page.getByRole("region", { name: "Plan editor" });
  await editor.getByRole("textbox", { name: "Plan text" }).fill("## Rollout\n\nShip **carefully** with `lock_timeout`.\n\n- [x] rehearsed");
  // Live preview, rendered like the spec.
  const preview = editor.getByLabel("Preview");
  await expect(preview.locator("strong")).toHaveText("carefully");
  await expect(preview.locator(".n-todo input")).toBeChecked();
  // An over-long owner is refused beside that field; nothing is saved.
  await editor.locator(".phase-edit").nth(2).getByLabel("Owner").fill("x".repeat(101));
  await editor.getByRole("button", { name: "Save plan" }).click();
  await expect(editor.locator(".phase-edit").nth(2).locator(".field-error")).toContainText("at most 100 characters");
  await editor.locator(".phase-edit").nth(2).getByLabel("Owner").fill("Chen Wei");
  await editor.locator(".phase-edit").nth(1).getByLabel("Status note").fill("waiting for the benchmark");
  await editor.getByRole("button", { name: "Save plan" }).click();

  await expect(page.locator(".revision")).toHaveText("Revision 2");
  await expect(editor).toBeHidden();
  await expect(page.locator(".plan-body strong")).toHaveText("carefully");
  await expect(page.locator(".plan-phase").nth(1)).toContainText("Status: waiting for the benchmark");
  const history = page.getByRole("region", { name: "History" });
  await expect(history.locator("li[data-revision]")).toHaveCount(2);
  await expect(history.locator('li[data-revision="2"]')).toContainText(`by ${OPERATOR.email}`);
  await history.getByRole("button", { name: "Compare" }).click();
  const diff = history.getByLabel("Differences");
  await expect(diff.locator(".added").first()).toBeVisible();
  await expect(diff.locator(".added", { hasText: "Status note: waiting for the benchmark" })).toHaveCount(1);

  await page.reload();
  await expect(page.locator(".revision")).toHaveText("Revision 2");
  await expect(page.locator(".plan-phase").nth(1)).toContainText("waiting for the benchmark");
});

test("a conflicting edit from a second browser is shown as a conflict, not overwritten", async ({ browser }) => {
  const a = await open(browser);
  const b = await open(browser);
  await editPlan(a);
  await editPlan(b);

  await a.getByRole("textbox", { name: "Plan text" }).fill("Alice's plan");
  await a.getByRole("button", { name: "Save plan" }).click();
  await expect(a.locator(".revision")).toHaveText("Revision 2");
  // B hears of it, but its open editor keeps what B is typing.
  await expect(b.locator(".live-note")).toContainText("when you close the editor");
  await expect(b.locator(".revision")).toHaveText("Revision 1");

  await b.getByRole("textbox", { name: "Plan text" }).fill("Bob's plan");
  await b.getByRole("button", { name: "Save plan" }).click();
  const conflict = b.getByRole("region", { name: "Conflict" });
  await expect(conflict).toContainText(`revision 2 was saved by ${OPERATOR.email}`);
  await expect(conflict.locator("pre.theirs")).toContainText("Alice's plan");
  await expect(conflict.locator("pre.mine")).toContainText("Bob's plan");

  // Nothing was overwritten.
  await a.reload();
  await expect(a.locator(".plan-body")).toContainText("Alice's plan");

  // Bob chooses to keep his, knowingly.
  await conflict.getByRole("button", { name: "Keep mine (save over theirs)" }).click();
  await expect(b.locator(".revision")).toHaveText("Revision 3");
  await expect(b.locator(".plan-body")).toContainText("Bob's plan");

  // Restore revision 2 from the history.
  await b.getByRole("button", { name: "Restore revision 2" }).click();
  await expect(b.locator(".revision")).toHaveText("Revision 4");
  await expect(b.locator(".plan-body")).toContainText("Alice's plan");
});

test("a revision saved in another browser shows without a reload", async ({ browser }) => {
  const a = await open(browser);
  const b = await open(browser);
  await editPlan(b);
  await b.getByRole("textbox", { name: "Plan text" }).fill("Bea's plan, saved elsewhere");
  await b.getByRole("button", { name: "Save plan" }).click();
  await expect(b.locator(".revision")).toHaveText("Revision 2");
  await expect(a.locator(".revision")).toHaveText("Revision 2");
  await expect(a.locator(".plan-body")).toContainText("Bea's plan, saved elsewhere");
  await expect(a.locator(".live-note")).toBeEmpty();
});

test("without JavaScript the plan form saves a revision and a refusal is shown after the redirect", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(URL);
  await expect(page.locator(".revision")).toHaveText("Revision 1");
  await editPlan(page);
  const editor = page.getByRole("region", { name: "Plan editor" });
  await editor.locator(".phase-edit").nth(2).getByLabel("Owner").fill("x".repeat(101));
  await editor.getByRole("button", { name: "Save plan" }).click();
  // Back on the plan, the editor open with the refusal beside its field.
  await expect(page).toHaveURL(/\/m\/user-preferences\/plan\?.*__err=/);
  await expect(editor.locator(".phase-edit").nth(2).locator(".field-error")).toContainText("at most 100 characters");
  await expect(page.locator(".revision")).toHaveText("Revision 1");

  await editor.getByRole("textbox", { name: "Plan text" }).fill("Saved without JavaScript");
  await editor.getByRole("button", { name: "Save plan" }).click();
  await expect(page.locator(".revision")).toHaveText("Revision 2");
  await expect(page.locator(".plan-body")).toContainText("Saved without JavaScript");
  await expect(page.getByRole("region", { name: "History" }).locator("li[data-revision]")).toHaveCount(2);
  await context.close();
});

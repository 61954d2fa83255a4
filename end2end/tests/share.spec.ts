import { test, expect, switchyard } from "./fixtures";

// A share link, opened where nobody is signed in and JavaScript is off.
test("a share link shows the migration read-only, and the revoked link says so", async ({ browser }) => {
  const path = switchyard(["share", "create", "user-preferences", "--label", "for #payments"]).trim();
  expect(path).toMatch(/^\/s\/[0-9a-f]{32}$/);
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] }, javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto(path);
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("User Preferences Schema Migration");
  await expect(page.getByText("Read-only view, shared by link")).toBeVisible();
  await expect(page.locator('meta[property="og:description"]')).toHaveAttribute("content", /^Phase 1 of 5: /);
  await expect(page.getByRole("region", { name: "Tasks" })).toContainText("Add dual-write");
  await expect(page.getByRole("button")).toHaveCount(0);
  await expect(page.locator("form, input:not([disabled]), textarea, select")).toHaveCount(0);

  const id = switchyard(["share", "list", "user-preferences"]).split("\t")[0];
  switchyard(["share", "revoke", id]);
  const again = await page.goto(path);
  expect(again?.status()).toBe(410);
  await expect(page.getByText("This share link was revoked.")).toBeVisible();
});

// Made on the migration's page by an operator, watched live by a reader
// with JavaScript, revoked on the page: the open page says so at once, and
// the link then answers with the revoked page.
test("a share link made on the page is live and stops when revoked there", async ({ browser, page }) => {
  await page.goto("/m/user-preferences/share");
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await page.getByLabel("Label").fill("for the wiki");
  await page.getByRole("button", { name: "Create link" }).click();
  const link = page.locator(".share-created a.share-url");
  await expect(link).toHaveText(/^\/s\/[0-9a-f]{32}$/);
  const path = (await link.textContent()) ?? "";
  await expect(page.locator(".share-link")).toContainText("for the wiki");

  const reader = await (await browser.newContext({ storageState: { cookies: [], origins: [] } })).newPage();
  expect((await reader.goto(path))?.status()).toBe(200);
  await expect(reader.locator("body[data-hydrated=true]")).toBeAttached();
  await expect(reader.locator('.shared-phase[data-position="1"]')).toHaveAttribute("data-state", "pending");
  // Live: phase 1 runs (the CLI), the open page follows.
  switchyard(["phase", "run", "1", "recipes/user_preferences.toml"], 60_000);
  await expect(reader.locator('.shared-phase[data-position="1"]')).toHaveAttribute("data-state", "done", {
    timeout: 15_000,
  });

  await page.getByRole("button", { name: "Revoke" }).click();
  await expect(page.locator(".share-link")).toHaveAttribute("data-state", "revoked", { timeout: 15_000 });
  await expect(reader.getByText("This link no longer works")).toBeVisible({ timeout: 15_000 });
  const again = await reader.goto(path);
  expect(again?.status()).toBe(410);
  await expect(reader.getByText("This share link was revoked.")).toBeVisible();
  await reader.context().close();
});

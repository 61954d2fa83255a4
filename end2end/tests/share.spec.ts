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

import { test, expect, OPERATOR, VIEWER, ADMIN, signedIn, sql, ensureAccount } from "./fixtures";

// Accounts in the browser: first-run setup, sign in and out, and what a
// viewer is shown. Contexts opened with an empty storage state are anonymous.
const anonymous = { storageState: { cookies: [], origins: [] } };

test("first run: the first person creates the admin, then /setup is gone", async ({ browser }) => {
  // A server with no account yet (the other tests' accounts come back in
  // their own fixtures).
  sql("DELETE FROM switchyard.accounts; DELETE FROM switchyard.sessions");
  const page = await (await browser.newContext(anonymous)).newPage();
  await page.goto("/m/user-preferences");
  await expect(page).toHaveURL(/\/setup$/);
  const form = page.getByRole("form", { name: "Create the admin account" });
  await form.getByLabel("Email").fill("admin@e2e.example");
  await form.getByLabel("Password (at least 10 characters)").fill("admin password");
  await form.getByLabel("Password again").fill("admin password");
  await form.getByRole("button", { name: "Create admin and sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".topbar .account")).toContainText("admin@e2e.example");
  await expect(page.locator(".topbar .account")).toContainText("admin");

  const again = await page.goto("/setup");
  expect(again?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
});

test("sign in, a wrong password told apart from nothing, sign out", async ({ browser }) => {
  ensureAccount(OPERATOR);
  const page = await (await browser.newContext(anonymous)).newPage();
  await page.goto("/m/user-preferences/phases");
  await expect(page).toHaveURL(/\/login\?next=/);
  const form = page.getByRole("form", { name: "Sign in" });
  await form.getByLabel("Email").fill(OPERATOR.email);
  await form.getByLabel("Password").fill("not the password");
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  // An unknown email gets exactly the same answer.
  await form.getByLabel("Email").fill("nobody@e2e.example");
  await form.getByLabel("Password").fill("not the password");
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");

  await form.getByLabel("Email").fill(OPERATOR.email);
  await form.getByLabel("Password").fill(OPERATOR.password);
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/m\/user-preferences\/phases$/);
  await expect(page.locator(".topbar .account")).toContainText(OPERATOR.email);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await expect(page.getByRole("status")).toHaveText("You are signed out.");
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
});

test("a viewer sees no controls and is told who may use them", async ({ browser }) => {
  const page = await (await browser.newContext({ storageState: await signedIn(VIEWER) })).newPage();
  await page.goto("/m/user-preferences/phases");
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await expect(page.locator(".console-phase[data-position=\"1\"]")).toContainText("Phase 1 actions: operators only");
  await expect(page.getByRole("button", { name: "Run", exact: true })).toHaveCount(0);

  await page.goto("/m/user-preferences/tasks");
  await expect(page.getByText("Creating, moving and editing tasks: operators only")).toBeVisible();
  await expect(page.getByRole("form", { name: "New task" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /^Move to / })).toHaveCount(0);

  await page.goto("/m/user-preferences/plan");
  await expect(page.getByText("Editing and restoring the plan: operators only")).toBeVisible();
  await expect(page.getByText("Edit plan")).toHaveCount(0);
});

test("an admin adds an operator on the Accounts page, who then signs in", async ({ browser }) => {
  const added = { email: "added-operator@e2e.example", password: "initial password" };
  sql(`DELETE FROM switchyard.accounts WHERE email = '${added.email}'`);
  const page = await (await browser.newContext({ storageState: await signedIn(ADMIN) })).newPage();
  await page.goto("/admin");
  const form = page.getByRole("form", { name: "Add an account" });
  const fill = async (again: string) => {
    await form.getByLabel("Email").fill(added.email);
    await form.getByLabel("Role").selectOption("Operator");
    await form.getByLabel("Initial password (at least 10 characters)").fill(added.password);
    await form.getByLabel("Initial password again").fill(again);
    await form.getByRole("button", { name: "Add account" }).click();
  };
  // A mismatch is refused beside its field, and adds nothing.
  await fill("another password");
  await expect(form.locator('[data-field="confirm"]')).toHaveText("the two passwords differ");
  await expect(page.locator(`tr.account-row[data-email="${added.email}"]`)).toHaveCount(0);

  // With JavaScript the islands router posts the form and turns the page
  // into the server's answer: no reload (the mark set here survives), the
  // list grown by a row, the audit log below it current, the fields empty.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await fill(added.password);
  const row = page.locator(`tr.account-row[data-email="${added.email}"]`);
  await expect(row.locator(".role")).toHaveText("operator");
  await expect(row).toContainText("active");
  await expect(page.locator(".audit-log li[data-kind=account_added]").first()).toContainText(ADMIN.email);
  await expect(page.locator(".audit-log li[data-kind=account_added]").first()).toContainText(added.email);
  await expect(form.getByLabel("Initial password (at least 10 characters)")).toHaveValue("");
  await expect(form.locator('[data-field="confirm"]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  // What the router did matches a fresh load of the page.
  const patched = await page.locator("main").innerText();
  await page.goto("/admin");
  expect(await page.locator("main").innerText()).toBe(patched);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  const signIn = page.getByRole("form", { name: "Sign in" });
  await signIn.getByLabel("Email").fill(added.email);
  await signIn.getByLabel("Password").fill(added.password);
  await signIn.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".topbar .account")).toContainText(added.email);
  await expect(page.locator(".topbar .account")).toContainText("operator");
});

import { test, expect } from "./fixtures";

// The Notion mirror against the fake Notion scripts/test.sh starts beside
// the app (NOTION_FAKE_URL); its admin API plays the person editing Notion.
const FAKE = process.env.NOTION_FAKE_URL;

async function admin(path: string, method: string, body?: unknown): Promise<any> {
  const r = await fetch(`${FAKE}/_admin${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

const text = (kind: string, content: string) => ({
  object: "block",
  type: kind,
  [kind]: { rich_text: [{ type: "text", text: { content } }] },
});

test("a spec imported from Notion by URL, refreshed after an edit in Notion, and the plan published", async ({ page }) => {
  test.skip(!FAKE, "needs the fake Notion (scripts/test.sh starts it)");
  const stamp = Date.now().toString(36);
  const title = `E2E Spec ${stamp}`;
  const name = `e2e-spec-${stamp}`;
  const created = await admin("/pages", "POST", {
    title,
    children: [
      text("heading_1", "Overview"),
      text("bulleted_list_item", "Current: a JSONB blob"),
      text("paragraph", "Will change"),
    ],
  });

  await page.goto("/notion/import");
  const form = page.getByRole("form", { name: "Import by URL" });
  await form.getByLabel("Notion page URL or id").fill(created.url);
  await form.getByRole("button", { name: "Import" }).click();
  await expect(page).toHaveURL(new RegExp(`/m/${name}$`));
  await expect(page.locator(".notion-doc")).toContainText("Will change");
  await expect(page.getByRole("complementary", { name: "Requirements" })).toContainText("a JSONB blob");

  // Someone edits the page in Notion.
  const tree = await admin(`/pages/${created.id}`, "GET");
  await admin(`/blocks/${tree.children[2].id}`, "PATCH", {
    rich_text: [{ type: "text", text: { content: "Changed in Notion" } }],
  });
  await page.goto(`/m/${name}/notion`);
  await page.getByRole("link", { name: "Refresh from Notion" }).click();
  const changes = page.getByRole("region", { name: "Changes from Notion" });
  await expect(changes).toContainText("Will change → Changed in Notion");
  await changes.getByRole("button", { name: "Replace the spec with Notion's page" }).click();
  await expect(page).toHaveURL(new RegExp(`/m/${name}$`));
  await expect(page.locator(".notion-doc")).toContainText("Changed in Notion");

  // Publish the plan; the outbox worker creates the page.
  await page.goto(`/m/${name}/notion`);
  await page.getByRole("button", { name: "Publish plan to Notion" }).click();
  await expect(page).toHaveURL(new RegExp(`/m/${name}/notion$`));
  await expect(async () => {
    await page.reload();
    await expect(page.locator("a.plan-page")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  const after = await admin(`/pages/${created.id}`, "GET");
  const child = after.children.find((c: any) => c.type === "child_page");
  expect(child.child_page.title).toBe(`Implementation plan: ${title}`);
  const plan = JSON.stringify(await admin(`/pages/${child.id}`, "GET"));
  expect(plan).toContain("Phase 2: Backfill data from the JSONB column");
  expect(plan).toContain("Depends on: Phase 1 (Create new tables with indexes)");
});

// Notion's own API on the fake, as the integration calls it.
async function api(path: string, method: string, body?: unknown): Promise<any> {
  const r = await fetch(`${FAKE}/v1${path}`, {
    method,
    headers: {
      authorization: "Bearer secret_e2e",
      "notion-version": "2026-03-11",
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

// The fake is shared by every test: a rate limit a test set (and did not
// get to lift) is lifted after it.
test.afterEach(async () => {
  if (FAKE) await admin("/rate_limit", "POST", null);
});

test("tasks: the task database connected, the tasks created in Notion, a card moved reaches Notion", async ({ page }) => {
  test.skip(!FAKE, "needs the fake Notion (scripts/test.sh starts it)");
  // Five pages through the outbox, then polls every 5 s and a conflict.
  test.setTimeout(240_000);
  const stamp = Date.now().toString(36);
  const home = await admin("/pages", "POST", { title: `Team ${stamp}` });
  const options = (names: string[]) => ({ options: names.map((name) => ({ name })) });
  const db = await admin("/databases", "POST", {
    parent: home.id,
    title: `Tasks ${stamp}`,
    properties: {
      "Task name": { title: {} },
      State: { status: options(["Not started", "In progress", "Blocked", "Done"]) },
      Priority: { select: options(["Low", "Medium", "High", "Critical"]) },
      "Depends on": { relation: { data_source_id: "self" } },
      Notes: { rich_text: {} },
    },
  });

  await page.goto("/m/user-preferences/notion");
  const connect = page.getByRole("form", { name: "Connect task database" });
  await connect.getByLabel("Task database URL or id").fill(db.database_id);
  await connect.getByRole("button", { name: "Connect" }).click();
  await expect(page).toHaveURL(/\/m\/user-preferences\/notion$/);
  const mapping = page.getByRole("form", { name: "Task mapping" });
  await expect(mapping.getByLabel("Status", { exact: true })).toHaveValue("State");
  await expect(mapping.getByLabel("Depends on", { exact: true })).toHaveValue("Depends on");
  await expect(page.locator(".mapping-missing")).toContainText("Assignee: no property");
  await mapping.getByRole("button", { name: "Confirm mapping" }).click();
  await page.getByRole("button", { name: "Create tasks in Notion" }).click();

  // The outbox worker creates the five pages, then their dependencies.
  const rows = async () => (await api(`/data_sources/${db.data_source_id}/query`, "POST", {})).results;
  const titled = (all: any[], title: string) =>
    all.filter((p) => p.properties["Task name"].title.map((t: any) => t.plain_text).join("") === title);
  await expect.poll(async () => (await rows()).length, { timeout: 60_000 }).toBe(5);
  await expect
    .poll(async () => titled(await rows(), "Rollback plan and monitoring")[0]?.properties["Depends on"]?.relation.length, {
      timeout: 60_000,
    })
    .toBe(2);
  const dual = titled(await rows(), "Add dual-write");
  expect(dual).toHaveLength(1);
  expect(dual[0].properties.State.status.name).toBe("Not started");

  // A card moved on the board reaches Notion.
  await page.goto("/m/user-preferences/tasks");
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  const card = page.locator(".card", { has: page.locator("h4", { hasText: "Add dual-write" }) });
  await card.getByRole("button", { name: "Move to In Progress" }).click();
  await expect
    .poll(async () => titled(await rows(), "Add dual-write")[0].properties.State.status.name, { timeout: 60_000 })
    .toBe("In progress");
  expect(titled(await rows(), "Add dual-write")[0].properties.Notes).toBeUndefined();

  // A status changed in Notion moves the card on the open board, without a
  // reload (the app polls the fake every 5 s in make test).
  const inColumn = (status: string) =>
    page.getByRole("region", { name: "Task board" }).getByRole("region", { name: status, exact: true })
      .locator(".card h4", { hasText: "Add dual-write" });
  await admin(`/pages/${dual[0].id}/properties`, "PATCH", { State: { status: { name: "Done" } } });
  await expect(inColumn("Done")).toBeVisible({ timeout: 60_000 });
  await expect(inColumn("In Progress")).toHaveCount(0);

  // The same field changed on both sides while Notion answers nothing but
  // 429: a conflict, shown on the Notion tab, written nowhere until one
  // side is kept in the browser.
  await admin("/rate_limit", "POST", { requests: 0, window_ms: 600_000, retry_after_secs: 1 });
  try {
    await card.getByRole("button", { name: "Move to Blocked" }).click();
    await expect(inColumn("Blocked")).toBeVisible();
    await page.waitForLoadState("networkidle");
    await admin(`/pages/${dual[0].id}/properties`, "PATCH", { State: { status: { name: "In progress" } } });
  } finally {
    await admin("/rate_limit", "POST", null);
  }
  await page.goto("/m/user-preferences/notion");
  const conflict = page.locator("tr.conflict", { hasText: "Add dual-write" });
  await expect(async () => {
    await page.reload();
    await expect(conflict).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await expect(conflict.locator(".board-value")).toContainText("Blocked");
  await expect(conflict.locator(".notion-value")).toContainText(/In progress/i);
  expect(titled(await rows(), "Add dual-write")[0].properties.State.status.name).toBe("In progress");
  await conflict.getByRole("button", { name: "Keep Notion's" }).click();
  await expect(page.locator("tr.conflict")).toHaveCount(0);
  await page.goto("/m/user-preferences/tasks");
  await expect(inColumn("In Progress")).toBeVisible();
  expect(titled(await rows(), "Add dual-write")[0].properties.State.status.name).toBe("In progress");
});

test("the plan changed in Switchyard and in Notion: the conflict shown on the plan and resolved in the browser", async ({ page }) => {
  test.skip(!FAKE, "needs the fake Notion (scripts/test.sh starts it)");
  test.setTimeout(180_000);
  const stamp = Date.now().toString(36);
  const title = `E2E Plan ${stamp}`;
  const name = `e2e-plan-${stamp}`;
  const created = await admin("/pages", "POST", { title, children: [text("paragraph", "A spec")] });
  await page.goto("/notion/import");
  const form = page.getByRole("form", { name: "Import by URL" });
  await form.getByLabel("Notion page URL or id").fill(created.url);
  await form.getByRole("button", { name: "Import" }).click();
  await expect(page).toHaveURL(new RegExp(`/m/${name}$`));
  await page.goto(`/m/${name}/notion`);
  await page.getByRole("button", { name: "Publish plan to Notion" }).click();
  await expect(async () => {
    await page.reload();
    await expect(page.locator("a.plan-page")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  const spec = await admin(`/pages/${created.id}`, "GET");
  const planPage = spec.children.find((c: any) => c.type === "child_page").id;

  // Notion answers nothing for a while, so neither side's change crosses
  // before the other is made.
  await admin("/faults", "POST", Array.from({ length: 20 }, () => ({ kind: "status", status: 503 })));
  await page.goto(`/m/${name}/plan`);
  await page.locator("summary", { hasText: "Edit plan" }).click();
  const editor = page.getByRole("region", { name: "Plan editor" });
  await editor.getByRole("textbox", { name: "Plan text" }).fill("Ours: ship on Monday.");
  await editor.getByRole("button", { name: "Save plan" }).click();
  await expect(page.locator(".plan-body")).toContainText("Ours: ship on Monday.");
  await admin(`/blocks/${planPage}/children`, "POST", [text("paragraph", "Theirs: ship on Friday.")]);

  // Both changed: shown side by side on the plan, nothing written anywhere.
  const conflict = page.getByRole("alert", { name: "Plan conflict" });
  await expect(async () => {
    await page.reload();
    await expect(conflict).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 90_000 });
  await expect(conflict.locator(".switchyard-side")).toContainText("Ours: ship on Monday.");
  await expect(conflict.locator(".notion-side")).toContainText("Theirs: ship on Friday.");
  await expect(conflict.locator(".notion-side")).toContainText("By Notion: Dana Person");
  await expect(page.locator(".plan-body")).not.toContainText("Theirs");

  // Keep Notion's: the next sync saves it as a revision by its editor, and
  // the open page shows it without a reload (it follows the plan live).
  await conflict.getByRole("button", { name: "Keep Notion's" }).click();
  await expect(conflict).toHaveCount(0);
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await expect(page.locator(".plan-body")).toContainText("Theirs: ship on Friday.", { timeout: 30_000 });
  await page.reload();
  await expect(page.locator(".plan-body")).toContainText("Theirs: ship on Friday.");
});

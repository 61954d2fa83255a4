import { Page } from "@playwright/test";
import { test, expect, sql, VIEWER, signedIn } from "./fixtures";

// Issue 14: a migration of a table of another shape than the demo's (uuid
// key, nested paths, numeric and timestamp values, entries keyed by SKU),
// made from `/` without writing a file: pick the table, profile it, edit
// the drafted recipe (a mistake shown beside its line first), create the
// migration, and run phase 1 from its console.

const NAME = "e2e-orders";

function freshOrders() {
  // Whatever an earlier run left: the table, the migration, its drafts and
  // the engine's bookkeeping of it.
  sql(`DROP SCHEMA IF EXISTS e2e_shop CASCADE;
       DELETE FROM switchyard.migration_drafts WHERE source_schema = 'e2e_shop';
       DELETE FROM switchyard.migrations WHERE name = '${NAME}';
       DO $$ DECLARE t text; BEGIN
         FOR t IN SELECT c.table_name FROM information_schema.columns c
                  JOIN information_schema.tables x USING (table_schema, table_name)
                  WHERE c.table_schema = 'switchyard' AND c.column_name = 'migration_name'
                    AND x.table_type = 'BASE TABLE' LOOP
           EXECUTE format('DELETE FROM switchyard.%I WHERE migration_name = %L', t, '${NAME}');
         END LOOP; END $$;
       CREATE SCHEMA e2e_shop;
       CREATE TABLE e2e_shop.orders (order_id uuid PRIMARY KEY, meta jsonb);
       INSERT INTO e2e_shop.orders
       SELECT md5(g::text)::uuid,
              jsonb_build_object(
                'billing', jsonb_build_object('total', (g % 97) + 0.5, 'currency', (ARRAY['EUR','USD'])[1 + g % 2]),
                'placed_at', to_char(timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                'items', g % 5,
                'lines', jsonb_build_object('sku-' || (g % 30), jsonb_build_object('qty', 1 + g % 3, 'price', 4.5),
                                            'sku-' || (g % 30 + 30), jsonb_build_object('qty', 2, 'price', 1.25)))
       FROM generate_series(1, 2000) g;
       ANALYZE e2e_shop.orders;`);
}

async function recipeText(page: Page): Promise<string> {
  return await page.getByLabel("Recipe (TOML)").inputValue();
}

test("a migration of another table is made from /, rehearsed, and its phases 1 and 2 run, watched live", async ({ page }) => {
  test.setTimeout(180_000);
  freshOrders();

  // From the home page to the list of sources.
  await page.goto("/");
  await page.getByRole("link", { name: "New migration", exact: true }).click();
  await expect(page).toHaveURL(/\/new$/);
  const row = page.locator('tr[data-table="e2e_shop.orders"]');
  await expect(row).toContainText("order_id (uuid)");
  // The demo's table is taken by the demo.
  await expect(page.locator('tr[data-table="public.users"]')).toContainText("Already migrated by");
  await row.getByRole("button", { name: "Profile this table" }).click();
  await expect(page).toHaveURL(/\/new\/\d+$/);

  // Step 2: the profile, every path.
  await page.getByRole("button", { name: "Profile a sample" }).click();
  await expect(page.locator(".profile-summary")).toContainText("Read 2000 rows");
  await expect(page.locator('tr[data-path="billing.total"]')).toContainText("number 100.0%");
  await expect(page.locator('tr[data-path="billing.currency"]')).toContainText('"EUR" (1000)');
  await expect(page.locator(".entry-objects")).toContainText("lines");

  // A whole-table profile's progress, live: a scan shown as running (as the
  // server writes it after each part) is followed by the page's progress
  // line every two seconds, and the page loads again when it ends.
  const draftId = page.url().match(/\/new\/(\d+)$/)![1];
  sql(`UPDATE switchyard.migration_drafts
       SET profiling_since = now(), profiling_beat = now(), profiling_whole = true,
           profiling_pages_done = 3, profiling_pages_total = 12
       WHERE id = ${draftId}`);
  await page.reload();
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await expect(page.locator("p.profiling")).toContainText("Profiling the whole table: 25% (3 of 12 pages)");
  await expect(page.getByRole("button", { name: "Profile the whole table" })).toHaveCount(0);
  sql(`UPDATE switchyard.migration_drafts SET profiling_pages_done = 9, profiling_beat = now() WHERE id = ${draftId}`);
  await expect(page.locator("p.profiling")).toContainText("75% (9 of 12 pages)", { timeout: 10_000 });
  sql(`UPDATE switchyard.migration_drafts SET profiling_since = NULL, profiling_beat = NULL WHERE id = ${draftId}`);
  await expect(page.getByRole("button", { name: "Profile the whole table" })).toBeVisible({ timeout: 10_000 });
  await expect(page.locator("p.profiling")).toHaveCount(0);
  // And a real one, started by its button, ends by itself.
  await page.getByRole("button", { name: "Profile the whole table" }).click();
  await expect(page.getByRole("button", { name: "Profile the whole table" })).toBeVisible({ timeout: 20_000 });
  await expect(page.locator(".profile-summary")).toContainText("Read 2000 rows (the whole table");
  await expect(page.locator(".error-note")).toHaveCount(0);

  // Step 3: the drafted recipe; a mistake is shown beside its line.
  const drafted = await recipeText(page);
  expect(drafted).toContain('type = "timestamptz"');
  expect(drafted).toContain('type = "numeric"');
  const bad = drafted.replace('type = "numeric"', 'type = "money"');
  const badLine = bad.split("\n").findIndex((l) => l.includes("money")) + 1;
  await page.getByLabel("Recipe (TOML)").fill(bad);
  // Shown as typed, before the save.
  await expect(page.locator(".recipe-live")).toContainText(`line ${badLine}: `);
  await expect(page.locator(".recipe-live")).toContainText('type = "money"');
  await page.getByRole("button", { name: "Save recipe" }).click();
  await expect(page.locator(".recipe-problems")).toContainText(`line ${badLine}: `);
  await expect(page.locator(".recipe-problems")).toContainText("money");
  await expect(page.getByRole("button", { name: "Create the migration" })).toHaveCount(0);
  // Fixed, and named as the team wants.
  await page.getByLabel("Recipe (TOML)").fill(drafted.replace('name = "orders-meta"', `name = "${NAME}"`));
  await page.getByRole("button", { name: "Save recipe" }).click();
  await expect(page.locator(".recipe-problems")).toHaveCount(0);
  await expect(page.locator(".recipe-summary")).toContainText("billing.total");

  // Step 4: the plan and tasks, then the migration.
  await expect(page.locator(".planned-tasks")).toContainText("Implement backfill job");
  await page.getByRole("button", { name: "Create the migration" }).click();
  await expect(page).toHaveURL(new RegExp(`/m/${NAME}/phases$`));
  // A full load: the islands router does not wait for a lazy island after a
  // client-side navigation (README), and the console is one.
  await page.goto(`/m/${NAME}/phases`);
  await expect(page.locator("body[data-hydrated=true]")).toBeAttached();

  // Rehearsed on a sample first: every phase and rollback on a copy.
  const rehearsal = page.getByRole("region", { name: "Rehearsal" });
  await expect(rehearsal).toContainText("No rehearsal yet.");
  await rehearsal.getByLabel("Sample (% of the table)").fill("50");
  await rehearsal.getByRole("button", { name: "Rehearse on a sample" }).click();
  const summary = rehearsal.locator('.rehearsal-summary[data-state="passed"]');
  await expect(summary).toContainText("every phase and rollback passed", { timeout: 90_000 });
  await expect(rehearsal.locator(".rehearsal-steps tbody tr")).toHaveCount(10);
  await expect(rehearsal.locator(".rehearsal-steps tbody tr").first()).toContainText("run phase 1");
  await expect(rehearsal.locator(".rehearsal-steps tbody tr").last()).toContainText("roll back phase 1");
  // Every phase now has an estimate from it, and lists the locks it takes.
  await expect(page.locator('.console-phase[data-position="2"] .estimate')).toContainText("Estimated");
  await expect(page.locator('.console-phase[data-position="2"] .locks summary')).toContainText("row locks only");
  await expect(page.locator('.console-phase[data-position="3"] .locks summary')).toContainText("ACCESS EXCLUSIVE");
  await expect(
    page.locator('.console-phase[data-position="3"] .locks li[data-table="e2e_shop.orders"]'),
  ).toHaveAttribute("data-mode", "ACCESS EXCLUSIVE");

  const phase1 = page.locator('.console-phase[data-position="1"]');
  await page
    .getByRole("group", { name: "Phase 1 actions" })
    .getByRole("button", { name: "Run", exact: true })
    .click();
  await expect(phase1).toHaveAttribute("data-state", "done", { timeout: 60_000 });
  // Phase 2, watched live (no reload): its progress, then done, with what
  // it took beside its estimate.
  const phase2 = page.locator('.console-phase[data-position="2"]');
  await page
    .getByRole("group", { name: "Phase 2 actions" })
    .getByRole("button", { name: "Run", exact: true })
    .click();
  await expect(phase2).toHaveAttribute("data-state", "done", { timeout: 60_000 });
  await expect(page.locator(".progress-panel .rows")).toContainText(/^2000 \/ \d+ rows$/);
  await expect(phase2.locator(".estimate")).toContainText("took");

  // Listed on / beside the demo, with its own phase.
  await page.goto("/");
  await expect(page.locator(`.migration-card[data-name="${NAME}"]`)).toContainText("Phase 3 of 5");
  await expect(page.locator('.migration-card[data-name="user-preferences"]')).toContainText("Phase 1 of 5");
});

test("a viewer is told the wizard is for operators", async ({ browser }) => {
  const page = await (await browser.newContext({ storageState: await signedIn(VIEWER) })).newPage();
  await page.goto("/new");
  await expect(page.locator(".hint")).toContainText("operators only");
  await expect(page.getByRole("button", { name: "Profile this table" })).toHaveCount(0);
});

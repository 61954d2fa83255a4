// The same suite with its files run in reverse name order (each file a
// project that depends on the one before it, so the order is enforced), to
// show that no test depends on what an earlier one left behind:
//   npx playwright test --config reversed.config.ts
// (with BASE_URL and E2E_DATABASE_URL set as for playwright.config.ts).
import { defineConfig } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import base from "./playwright.config";

const files = fs
  .readdirSync(path.join(__dirname, "tests"))
  .filter((f) => f.endsWith(".spec.ts"))
  .sort()
  .reverse();
const browser = base.projects?.[0]?.use ?? {};

export default defineConfig({
  ...base,
  projects: files.map((file, i) => ({
    name: file,
    testMatch: file,
    use: browser,
    dependencies: i === 0 ? [] : [files[i - 1]],
  })),
});

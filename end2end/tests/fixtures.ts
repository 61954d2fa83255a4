// Every browser test starts from the demo migration as first seeded, so the
// tests pass in any order and any subset: before each test, the app's own
// CLI (`switchyard demo reset`) rolls back whatever a test ran and seeds the
// demo's spec, plan and tasks again, in the database the server uses.
//
// It needs that database and the app's binary:
//   E2E_DATABASE_URL  the server's DATABASE_URL (falls back to DATABASE_URL);
//                     scripts/test.sh sets it
//   SWITCHYARD_BIN    the binary (default: target/release/switchyard)
import { test as base, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

export function resetDemo() {
  const url = process.env.E2E_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "set E2E_DATABASE_URL to the DATABASE_URL of the server under test: each test resets the demo there",
    );
  }
  const bin = process.env.SWITCHYARD_BIN ?? path.join(ROOT, "target", "release", "switchyard");
  try {
    // The demo's recipe path is relative to the project folder.
    execFileSync(bin, ["demo", "reset"], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, RUST_LOG: "warn" },
      stdio: "pipe",
      timeout: 150_000,
    });
  } catch (e: any) {
    throw new Error(`switchyard demo reset failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

export const test = base.extend<{ seededDemo: void }>({
  seededDemo: [
    async ({}, use) => {
      resetDemo();
      await use();
    },
    { auto: true },
  ],
});

export { expect };

// Every browser test starts from the demo migration as first seeded, so the
// tests pass in any order and any subset: before each test, the app's own
// CLI (`switchyard demo reset`) rolls back whatever a test ran and seeds the
// demo's spec, plan and tasks again, in the database the server uses.
//
// Every test is signed in as OPERATOR unless it says otherwise: the accounts
// are created with the CLI (`switchyard user add`, password on stdin) when
// missing, and a fresh session (POST /login) is the `storageState` of every
// browser context the test opens (`browser.newContext()` included). A test
// that wants to be anonymous opens a context with
// `storageState: { cookies: [], origins: [] }`; `signedIn(VIEWER)` gives a
// viewer's.
//
// It needs that database and the app's binary:
//   E2E_DATABASE_URL  the server's DATABASE_URL (falls back to DATABASE_URL);
//                     scripts/test.sh sets it
//   SWITCHYARD_BIN    the binary (default: target/release/switchyard)
import { test as base, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

export function databaseUrl(): string {
  const url = process.env.E2E_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "set E2E_DATABASE_URL to the DATABASE_URL of the server under test: each test resets the demo there",
    );
  }
  return url;
}

const bin = () => process.env.SWITCHYARD_BIN ?? path.join(ROOT, "target", "release", "switchyard");

export type Who = { email: string; password: string; role: "admin" | "operator" | "viewer" };
export const OPERATOR: Who = { email: "operator@e2e.example", password: "operator password", role: "operator" };
export const VIEWER: Who = { email: "viewer@e2e.example", password: "viewer password", role: "viewer" };
export const CHECKER: Who = { email: "checker@e2e.example", password: "checker password", role: "operator" };
export const ADMIN: Who = { email: "admin@e2e.example", password: "admin password", role: "admin" };

/// Adds the account with the CLI unless it exists.
export function ensureAccount(who: Who) {
  try {
    execFileSync(bin(), ["user", "add", who.email, "--role", who.role], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl(), RUST_LOG: "warn" },
      input: `${who.password}\n`,
      stdio: "pipe",
      timeout: 30_000,
    });
  } catch (e: any) {
    const stderr = String(e.stderr ?? "");
    if (!stderr.includes("exists already")) {
      throw new Error(`switchyard user add failed: ${e.message}\n${stderr}`);
    }
  }
}

const baseURL = () => process.env.BASE_URL ?? "http://127.0.0.1:3000";

/// A browser storage state holding a fresh session of `who` (the account is
/// created first when missing), signed in through the sign-in form's POST.
export async function signedIn(who: Who) {
  ensureAccount(who);
  const response = await fetch(`${baseURL()}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email: who.email, password: who.password, next: "/" }).toString(),
    redirect: "manual",
  });
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("switchyard_session="));
  if (!cookie) {
    throw new Error(`signing in as ${who.email} failed: ${response.status} ${response.headers.get("location")}`);
  }
  const value = cookie.split(";")[0].slice("switchyard_session=".length);
  return {
    cookies: [
      {
        name: "switchyard_session",
        value,
        domain: new URL(baseURL()).hostname,
        path: "/",
        expires: -1,
        httpOnly: true,
        secure: false,
        sameSite: "Lax" as const,
      },
    ],
    origins: [],
  };
}

/// Runs `switchyard ARGS` on the server's database; returns its stdout.
export function switchyard(args: string[], timeout = 30_000): string {
  return execFileSync(bin(), args, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl(), RUST_LOG: "warn" },
    stdio: "pipe",
    timeout,
  }).toString();
}

/// Runs SQL on the server's database (psql).
export function sql(statement: string) {
  execFileSync("psql", [databaseUrl(), "-qc", statement], { stdio: "pipe", timeout: 30_000 });
}

export function resetDemo() {
  const url = databaseUrl();
  try {
    // The demo's recipe path is relative to the project folder.
    execFileSync(bin(), ["demo", "reset"], {
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
  // Every context of the test is the operator's, unless the test says
  // otherwise with test.use({ storageState: ... }).
  storageState: async ({}, use) => {
    await use(await signedIn(OPERATOR));
  },
});

export { expect };

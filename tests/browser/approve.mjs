// Drives Debian's headless Chromium through an approval: open the link a notice carries,
// sign in at the dev issuer's user picker, read the page, approve. Saves screenshots.
// Usage: node approve.mjs <approval link> <screenshot dir> <user>
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [link, shots, user] = process.argv.slice(2);
if (!link || !shots || !user) {
  console.error("usage: node approve.mjs <approval link> <screenshot dir> <user>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// A fresh profile every run, removed afterwards.
const profile = mkdtempSync(join(tmpdir(), "tollgate-chromium-"));
const context = await chromium.launchPersistentContext(
  profile,
  {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    // A phone: approvers decide in a hallway.
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    // The page must work without any script.
    javaScriptEnabled: false,
  },
);
const fail = async (page, what) => {
  console.error(`FAILED: ${what}\nURL: ${page.url()}\n${(await page.content()).slice(0, 3000)}`);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
};
try {
  const page = await context.newPage();
  await page.goto(link);
  if (!(await page.getByText("Sign in to decide").isVisible())) await fail(page, "sign-in link");
  await page.screenshot({ path: join(shots, "approval-page-signed-out.png"), fullPage: true });

  await page.getByText("Sign in to decide").click();
  await page.waitForLoadState();
  if (!(await page.getByText("Tollgate dev sign-in").isVisible())) await fail(page, "dev user picker");
  await page.screenshot({ path: join(shots, "dev-sign-in.png"), fullPage: true });

  await page.locator(`button[name=user][value="${user}"]`).click();
  await page.waitForLoadState();
  if (!(await page.getByText("Signed in as").isVisible())) await fail(page, "signed-in page");
  const hash = await page.locator("input[name=request_hash]").first().getAttribute("value");
  if (!hash || !(await page.getByText(hash).isVisible())) await fail(page, "the hash on the page");
  await page.screenshot({ path: join(shots, "approval-page.png"), fullPage: true });

  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForLoadState();
  if (!(await page.getByText("Decision recorded").isVisible())) await fail(page, "decision page");
  await page.screenshot({ path: join(shots, "approved.png"), fullPage: true });
  console.log(JSON.stringify({ approved: true, text: await page.locator(".ok").innerText() }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

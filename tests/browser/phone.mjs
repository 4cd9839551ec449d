// Debian's headless Chromium as an approver's phone, with JavaScript off: the pages must
// work without any script. Shared by approve.mjs and inbox.mjs.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// `scale`: 2 for a sharp phone screen, 1 for small screenshots.
export async function phone({ scale = 2 } = {}) {
  // A fresh profile every run, removed afterwards.
  const profile = mkdtempSync(join(tmpdir(), "tollgate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    // A phone: approvers decide in a hallway.
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: scale,
    isMobile: true,
    hasTouch: true,
    javaScriptEnabled: false,
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  const fail = async (page, what) => {
    console.error(`FAILED: ${what}\nURL: ${page.url()}\n${(await page.content()).slice(0, 3000)}`);
    await close();
    process.exit(1);
  };
  return { context, close, fail };
}

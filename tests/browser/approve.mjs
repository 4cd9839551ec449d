// Drives Debian's headless Chromium through an approval: open the link a notice carries,
// sign in at the dev issuer's user picker, read the page, approve. Saves screenshots.
// Usage: node approve.mjs <approval link> <screenshot dir> <user>
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { phone } from "./phone.mjs";

const [link, shots, user] = process.argv.slice(2);
if (!link || !shots || !user) {
  console.error("usage: node approve.mjs <approval link> <screenshot dir> <user>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const { context, close, fail } = await phone();
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
  await close();
}

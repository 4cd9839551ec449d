// Drives Debian's headless Chromium through approving with a grant: sign in from the inbox,
// open the request, read the grant's terms spelled out, approve allowing the call again, find
// the grant under "Live grants" in the inbox, and revoke it there. JavaScript stays off.
// Usage: node grant.mjs <api url> <screenshot dir> <user> <request id>
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { phone } from "./phone.mjs";

const [api, shots, user, id] = process.argv.slice(2);
if (!api || !shots || !user || !id) {
  console.error("usage: node grant.mjs <api url> <screenshot dir> <user> <request id>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const { context, close, fail } = await phone({ scale: 1 });
const shot = (page, name) => page.screenshot({ path: join(shots, name), fullPage: true });
try {
  const page = await context.newPage();
  await page.goto(`${api}/v1/inbox`);
  await page.getByText("Sign in to see your inbox").click();
  await page.waitForLoadState();
  await page.locator(`button[name=user][value="${user}"]`).click();
  await page.waitForLoadState();
  if (!(await page.getByText("No live grant.").isVisible())) await fail(page, "no grant yet");
  await page.goto(`${api}/v1/inbox/${id}`);
  for (const text of ["Allow this again (optional)", "exactly the same parameters", "at most 3 times within 30 minutes"]) {
    if (!(await page.getByText(text, { exact: false }).first().isVisible())) await fail(page, `grant form shows ${text}`);
  }
  await page.locator("input[name=grant_uses]").fill("2");
  await page.locator("input[name=grant_minutes]").fill("15");
  await shot(page, "grant-form.png");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForLoadState();
  const said = await page.locator(".ok").innerText();
  if (!said.includes("may run again up to 2 times within 15 minutes")) await fail(page, `approved with the grant: ${said}`);
  await page.getByText("Back to the inbox").click();
  await page.waitForLoadState();
  if (!(await page.getByText("Live grants").isVisible())) await fail(page, "live grants listed");
  if ((await page.locator(`li#grant-G${id}`).count()) !== 1) await fail(page, "the grant is listed");
  if (!(await page.locator(`li#grant-G${id}`).innerText()).includes("2 of 2 uses left")) await fail(page, "uses left");
  await shot(page, "grant-inbox.png");
  await page.locator(`li#grant-G${id}`).getByRole("button", { name: "Revoke grant" }).click();
  await page.waitForLoadState();
  const revoked = await page.locator(".ok").innerText();
  if (!revoked.includes("is revoked")) await fail(page, `revoked: ${revoked}`);
  await page.goto(`${api}/v1/inbox`);
  if (!(await page.getByText("No live grant.").isVisible())) await fail(page, "the revoked grant is gone from the live list");
  console.log(JSON.stringify({ approved: said, revoked }));
} finally {
  await close();
}

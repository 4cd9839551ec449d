// Drives Debian's headless Chromium, JavaScript off, through break-glass on the inbox's
// request page: someone outside the break-glass group sees no break-glass form; a member
// does, fills in the justification, ticks the box and approves alone.
// Usage: node breakglass.mjs <api url> <screenshot dir> <request id> <outsider> <member> <justification>
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { phone } from "./phone.mjs";

const [api, shots, id, outsider, member, why] = process.argv.slice(2);
if (!api || !shots || !id || !outsider || !member || !why) {
  console.error("usage: node breakglass.mjs <api url> <screenshot dir> <id> <outsider> <member> <justification>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const { context, close, fail } = await phone({ scale: 1 });
const shot = (page, name) => page.screenshot({ path: join(shots, name), fullPage: true });
const signIn = async (page, user) => {
  await page.goto(`${api}/v1/inbox/${id}`);
  await page.getByText("Sign in to see your inbox").click();
  await page.waitForLoadState();
  await page.locator(`button[name=user][value="${user}"]`).click();
  await page.waitForLoadState();
};
try {
  const page = await context.newPage();
  await signIn(page, outsider);
  if (!(await page.getByRole("button", { name: "Approve" }).isVisible())) await fail(page, "the outsider may vote");
  if ((await page.locator("form.breakglass").count()) !== 0) await fail(page, "no break-glass form for an outsider");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForLoadState();
  await context.clearCookies();

  await signIn(page, member);
  if ((await page.locator("form.breakglass").count()) !== 1) await fail(page, "the break-glass form for a member");
  await shot(page, "breakglass-form.png");
  await page.locator("textarea[name=justification]").fill(why);
  await page.locator("input[name=confirm]").check();
  await page.getByRole("button", { name: "Break glass and approve" }).click();
  await page.waitForLoadState();
  if (!(await page.getByText("Approved by break-glass").isVisible())) await fail(page, "approved by break-glass");
  await shot(page, "breakglass-approved.png");
  console.log(JSON.stringify({ breakglass: true }));
} finally {
  await close();
}

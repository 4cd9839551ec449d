// Drives Debian's headless Chromium through the approver inbox: sign in from the inbox,
// see what waits (soonest deadline first), filter by agent with the page's GET form, open
// one request's page and approve it there, then find it under the recent decisions.
// Usage: node inbox.mjs <api url> <screenshot dir> <user> <agent name> <id of its request> <id of another>
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { phone } from "./phone.mjs";

const [api, shots, user, agent, id, other] = process.argv.slice(2);
if (!api || !shots || !user || !agent || !id || !other) {
  console.error("usage: node inbox.mjs <api url> <screenshot dir> <user> <agent> <id> <other id>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// Small screenshots: they go into the repository.
const { context, close, fail } = await phone({ scale: 1 });
const shot = (page, name) => page.screenshot({ path: join(shots, name), fullPage: true });
try {
  const page = await context.newPage();
  await page.goto(`${api}/v1/inbox`);
  if (!(await page.getByText("Sign in to see your inbox").isVisible())) await fail(page, "inbox sign-in");
  await page.getByText("Sign in to see your inbox").click();
  await page.waitForLoadState();
  await page.locator(`button[name=user][value="${user}"]`).click();
  await page.waitForLoadState();
  if (!(await page.getByText("Waiting for you (2)").isVisible())) await fail(page, "two requests waiting");
  const links = await page.locator("ul.inbox a[href^='/v1/inbox/']").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  if (!links.includes(`/v1/inbox/${id}`) || !links.includes(`/v1/inbox/${other}`)) await fail(page, `both listed: ${links}`);
  await shot(page, "inbox.png");

  // The filter form is a plain GET form: no script needed.
  await page.locator("input[name=agent]").fill(agent);
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForLoadState();
  if (!page.url().includes(`agent=${encodeURIComponent(agent)}`)) await fail(page, "the filter is in the URL");
  if (!(await page.getByText("Waiting for you (1)").isVisible())) await fail(page, "one request after filtering");
  if ((await page.locator(`a[href="/v1/inbox/${other}"]`).count()) !== 0) await fail(page, "the other agent's request is filtered out");
  await shot(page, "inbox-filtered.png");

  await page.locator(`a[href="/v1/inbox/${id}"]`).first().click();
  await page.waitForLoadState();
  for (const text of ["Parameters", "What it touches now", "Timeline", "Outcome", "Deciding policies"]) {
    if (!(await page.getByText(text, { exact: false }).first().isVisible())) await fail(page, `request page shows ${text}`);
  }
  const hash = await page.locator("input[name=request_hash]").first().getAttribute("value");
  if (!hash || !(await page.getByText(hash).isVisible())) await fail(page, "the hash on the page");
  await shot(page, "inbox-request.png");

  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForLoadState();
  if (!(await page.getByText("Decision recorded").isVisible())) await fail(page, "decision page");
  const said = await page.locator(".ok").innerText();
  await page.getByText("Back to the inbox").click();
  await page.waitForLoadState();
  if (!(await page.getByText("Recently decided by you (1)").isVisible())) await fail(page, "the decision is listed as mine");
  if (!(await page.getByText("Waiting for you (1)").isVisible())) await fail(page, "one left waiting");
  await shot(page, "inbox-after.png");
  console.log(JSON.stringify({ approved: true, text: said }));
} finally {
  await close();
}

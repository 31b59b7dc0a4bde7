// Browser end-to-end test of the palmsig pages in headless Debian chromium (playwright-core).
//
//   node web-tests/e2e.mjs <base-url> <screenshots-dir>
//
// Env: PALMSIG_ADMIN_TOKEN (operator token of the server under test), CHROMIUM (browser path,
// default /usr/bin/chromium). The flow: operator creates a tenant and an API client → the tenant
// registers a site and a device → the scanner simulator activates with the code → kiosk enrolment
// (phone, code from the dev outbox, card, consent, synthetic captures) → hover to pay → reload,
// back and forward never pay again → keyboard-only sign-in to the portal: the history shows one
// payment → a double click pays once → keyboard-only hover → a 390x844 phone run with screenshots
// → delete palm data in the portal → the next hover is refused.
//
// Every page state: axe-core (WCAG 2.0–2.2 A/AA and best practices, injected from
// web-tests/node_modules, no network) must find 0 violations; no console errors, no page errors,
// no failed requests, every form control labelled, one <h1>. Exit code 0 = pass.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { createRequire } from "node:module";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node e2e.mjs <base-url> <screenshots-dir>");
  process.exit(2);
}
const ADMIN = process.env.PALMSIG_ADMIN_TOKEN;
if (!ADMIN) {
  console.error("PALMSIG_ADMIN_TOKEN is not set");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const AXE = join(dirname(createRequire(import.meta.url).resolve("axe-core")), "axe.min.js");

// Synthetic person used for the flow: population seed, person number, right hand. Visit 1
// captures enrol, a visit-2 capture pays. If the quality gate refuses a capture, the next capture
// number is tried (the page shows the reason).
const SEED = process.env.PALMSIG_E2E_SEED || "7";
const PERSON = process.env.PALMSIG_E2E_PERSON || "4";
const PHONE = "+41795550101";
const PHONE_VIEW = { width: 390, height: 844 };

const t0 = Date.now();
const problems = [];
const audited = []; // [state, violations]
let keySteps = 0;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

// axe-core is added to every document by the browser itself (an init script is not subject to
// the pages' content security policy, which is left as it is).
async function newContext(viewport, storageState) {
  const ctx = await browser.newContext({ viewport, storageState });
  await ctx.addInitScript({ path: AXE });
  return ctx;
}

function watch(p) {
  p.setDefaultTimeout(30000);
  p.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()} on ${p.url()}: ${m.text()}`);
  });
  p.on("pageerror", (e) => problems.push(`page error on ${p.url()}: ${e.message}`));
  p.on("requestfailed", (r) => {
    // A navigation cancels the previous page's in-flight loads (favicon, a double click's first
    // post): not a failure.
    if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  p.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  return p;
}

const context = await newContext({ width: 1200, height: 900 });
let page = watch(await context.newPage());

function step(msg) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

function fail(msg) {
  throw new Error(msg);
}

// Checks of every page state: labels, one h1, and axe-core with 0 violations.
async function audit(state) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
      .map((el) => el.id || el.name),
  );
  if (unlabelled.length) problems.push(`${state}: controls without a label: ${unlabelled.join(", ")}`);
  const h1 = await page.locator("h1").count();
  if (h1 !== 1) problems.push(`${state}: ${h1} <h1> elements`);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
  });
  audited.push([state, result.length]);
  for (const v of result) problems.push(`axe on ${state}: ${v}`);
}

async function shot(name) {
  await audit(name);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function banner() {
  const b = page.locator("#banner");
  return (await b.count()) ? (await b.innerText()).trim() : "";
}

async function expectAlert(what) {
  const a = page.locator('[role="alert"]');
  if (!(await a.count())) throw new Error(`${what}: no visible error message`);
  await audit(what);
  return (await a.first().innerText()).trim();
}

// After a submit the answer has the focus: the invalid field, the result or the banner.
async function expectFocus(selector, what) {
  const ok = await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector);
  if (!ok) {
    const at = await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName));
    problems.push(`${what}: focus is on ${at}, not ${selector}`);
  }
}

async function submit(button) {
  await Promise.all([page.waitForLoadState("load"), page.waitForNavigation(), button.click()]);
}

async function openSettings() {
  if (!(await page.locator("#capture-settings").evaluate((d) => d.open))) await page.click("#capture-settings summary");
}

async function synthetic(session, capture) {
  await openSettings();
  await page.check("#src-synth");
  await page.fill("#syn-seed", SEED);
  await page.fill("#syn-id", PERSON);
  await page.selectOption("#syn-hand", "right");
  await page.fill("#syn-session", String(session));
  await page.fill("#syn-capture", String(capture));
  await page.selectOption("#syn-difficulty", "realistic");
}

// Keyboard only: Tab (or Shift+Tab) until `selector` has the focus; every key press counts.
async function tabTo(selector, back = false, max = 40) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    keySteps++;
  }
  fail(`keyboard: ${selector} not reached in ${max} Tabs`);
}

async function key(k) {
  await page.keyboard.press(k);
  keySteps++;
}

async function typeText(t) {
  await page.keyboard.type(t);
  keySteps++;
}

async function keySubmit(k = "Enter") {
  await Promise.all([page.waitForNavigation(), key(k)]);
  await page.waitForLoadState("load");
}

async function hoverResult() {
  const r = page.locator("#result");
  return {
    outcome: await r.getAttribute("data-outcome"),
    reason: await r.getAttribute("data-reason"),
    phone: (await page.locator("#result-phone").count()) ? (await page.locator("#result-phone").innerText()).trim() : "",
    latency: (await page.locator("#result-latency").innerText()).trim(),
  };
}

async function hover(purpose, capture, session) {
  await page.goto(base + "/scanner");
  await page.selectOption("#purpose", purpose);
  if (purpose === "payment") {
    await page.fill("#amount", "12.50");
    await page.fill("#currency", "EUR");
  }
  await synthetic(session, capture);
  await submit(page.locator("#hover-button"));
  return hoverResult();
}

async function paymentsInHistory() {
  await page.goto(base + "/account");
  const history = await page.locator("table:has(caption:text('Usage history')) tbody").innerText();
  return (history.match(/Payment authorized · 12\.50 EUR · visa •••• 4242/g) || []).length;
}

try {
  // ---- Home and operator console
  await page.goto(base + "/");
  await shot("home");
  await page.goto(base + "/console");
  await shot("console-sign-in");
  await page.fill("#admin-token", "wrong-token");
  await submit(page.locator('form:has(#admin-token) button[type="submit"]'));
  step(`wrong operator token: "${await expectAlert("console-wrong-token")}"`);
  await expectFocus("#admin-token", "wrong operator token");
  await page.fill("#admin-token", ADMIN);
  await submit(page.locator('form:has(#admin-token) button[type="submit"]'));
  await page.fill("#tenant-name", "   ");
  await submit(page.getByRole("button", { name: "Create tenant" }));
  step(`blank tenant name: "${await expectAlert("console-blank-tenant")}"`);
  await page.fill("#tenant-name", "Corner Shop");
  await submit(page.getByRole("button", { name: "Create tenant" }));
  await submit(page.getByRole("button", { name: "New API client for Corner Shop" }));
  const clientId = (await page.locator("#new-client-id").innerText()).trim();
  const clientSecret = (await page.locator("#new-client-secret").innerText()).trim();
  await shot("console-operator-tenants");
  step(`operator created tenant and client ${clientId}`);
  await submit(page.getByRole("button", { name: "Sign out" }));

  // ---- Tenant console: a wrong secret keeps the client id; site, device, activation code
  await page.fill("#client-id", clientId);
  await page.fill("#client-secret", "wrong");
  await submit(page.locator('form:has(#client-id) button[type="submit"]'));
  step(`wrong client secret: "${await expectAlert("console-wrong-secret")}"`);
  if ((await page.inputValue("#client-id")) !== clientId) fail("a wrong secret cleared the client id");
  await expectFocus("#client-secret", "wrong client secret");
  await page.fill("#client-secret", clientSecret);
  await submit(page.locator('form:has(#client-id) button[type="submit"]'));
  await page.goto(base + "/console/sites");
  await page.fill("#site-name", "Till 1");
  await submit(page.getByRole("button", { name: "Add site" }));
  await audit("console-site-added");
  await page.goto(base + "/console/devices");
  await page.fill("#device-name", "Web simulator");
  await submit(page.getByRole("button", { name: "Register device" }));
  const activation = (await page.locator("#activation-code").innerText()).trim();
  await shot("console-devices-activation");
  await page.reload();
  if ((await page.locator("tbody tr:has-text('Web simulator')").count()) !== 1) fail("reloading 'Device registered' registered another device");
  step(`device registered, activation code ${activation.length} digits; a reload registered nothing`);

  // ---- Scanner: activate, kiosk enrolment
  await page.goto(base + "/scanner");
  await shot("scanner-activate");
  await page.fill("#activation-code", "123");
  await submit(page.getByRole("button", { name: "Activate" }));
  step(`short activation code: "${await expectAlert("scanner-activate-error")}"`);
  await page.fill("#activation-code", activation);
  await submit(page.getByRole("button", { name: "Activate" }));
  const activated = await banner();
  if (!activated.startsWith("Scanner activated")) fail(`no activation message: ${activated}`);
  if (!(await page.locator("#first-run").count())) fail("no first-run hint before anyone is enrolled");
  await shot("scanner-activated");
  step(activated);
  await page.goto(base + "/scanner?mode=kiosk");
  await audit("kiosk-phone");
  await page.fill("#kiosk-phone", "0795550101");
  await submit(page.getByRole("button", { name: "Send code" }));
  step(`bad phone: "${await expectAlert("kiosk-bad-phone")}"`);
  await expectFocus("#kiosk-phone", "bad phone");
  await page.fill("#kiosk-phone", PHONE);
  await submit(page.getByRole("button", { name: "Send code" }));
  await audit("kiosk-code");
  const kioskCode = (await page.locator("#dev-code").innerText()).trim();
  await page.fill("#kiosk-code", kioskCode);
  await submit(page.getByRole("button", { name: "Confirm" }));
  await audit("kiosk-card");
  await page.fill("#kiosk-card", "4242 4242 4242 4242");
  await page.fill("#kiosk-month", "12");
  await page.fill("#kiosk-year", "31");
  await submit(page.getByRole("button", { name: "Add card" }));
  step(`two-digit expiry year: "${await expectAlert("kiosk-bad-year")}"`);
  await expectFocus("#kiosk-year", "two-digit expiry year");
  await page.fill("#kiosk-card", "4242 4242 4242 4241");
  await page.fill("#kiosk-month", "12");
  await page.fill("#kiosk-year", "2031");
  await submit(page.getByRole("button", { name: "Add card" }));
  step(`bad card: "${await expectAlert("kiosk-bad-card")}"`);
  await page.fill("#kiosk-card", "4242 4242 4242 4242");
  await page.fill("#kiosk-month", "12");
  await page.fill("#kiosk-year", "2031");
  await submit(page.getByRole("button", { name: "Add card" }));
  await audit("kiosk-consent");
  if (await page.locator('input[type=checkbox][id^="k-"]:checked').count()) fail("a purpose is pre-selected");
  await submit(page.getByRole("button", { name: "Continue" }));
  step(`no purpose chosen: "${await expectAlert("kiosk-no-purpose")}"`);
  await page.check("#k-payment");
  await submit(page.getByRole("button", { name: "Continue" }));
  await shot("scanner-kiosk-captures");

  let accepted = 0;
  for (let capture = 0; capture < 8 && accepted < 3; capture++) {
    await synthetic(1, capture);
    await submit(page.locator("#capture-button"));
    const b = await banner();
    step(`kiosk capture ${capture}: ${b}`);
    if (b.startsWith("Photo accepted")) accepted++;
  }
  if (accepted < 3) fail(`only ${accepted} enrolment captures accepted`);
  const counts = await page.locator("#capture-counts").innerText();
  if (/left/.test(counts) || / of \d+ needed/.test(counts)) fail(`counters: ${counts}`);
  await submit(page.locator("#complete-button"));
  if (!(await page.locator("#enrolled").count())) fail(`enrolment not completed: ${await banner()}`);
  await expectFocus("#enrolled", "enrolment result");
  await shot("scanner-kiosk-enrolled");
  step(`enrolled: ${(await page.locator("#enrolled").innerText()).replace(/\s+/g, " ")}`);

  // ---- Hover to pay; reload, back and forward never pay again
  let paid = null;
  let probe = 0;
  for (; probe < 6; probe++) {
    const r = await hover("payment", probe, 2);
    step(`hover pay (visit 2, capture ${probe}): ${r.outcome} ${r.reason || ""} ${r.phone} ${r.latency}`);
    if (r.outcome === "refused") continue; // quality gate: next capture
    paid = r;
    break;
  }
  if (!paid || paid.outcome !== "authorized") fail(`payment not authorized: ${JSON.stringify(paid)}`);
  if (!/^\+41 ••• ••• 01$/.test(paid.phone)) fail(`masked phone shown: ${paid.phone}`);
  await expectFocus("#result", "hover result");
  const title = await page.title();
  if (!title.startsWith("Payment authorized")) problems.push(`title after payment: ${title}`);
  await shot("scanner-hover-authorized");
  const resultUrl = page.url();
  for (let i = 0; i < 2; i++) {
    await page.reload();
    if ((await hoverResult()).outcome !== "authorized") fail("the reloaded result differs");
  }
  await page.goBack();
  await page.goForward();
  if (page.url() !== resultUrl) fail(`back/forward landed on ${page.url()}`);
  step(`reloaded the payment result twice, went back and forward (${resultUrl.replace(base, "")})`);

  // ---- An upload that is no image: refused, with the reason in plain words
  await page.goto(base + "/scanner");
  await page.selectOption("#purpose", "entry");
  await openSettings();
  await page.check("#src-upload");
  await page.setInputFiles("#up-visible", { name: "palm.png", mimeType: "image/png", buffer: Buffer.from("not an image") });
  await page.waitForFunction(() => document.getElementById("visible_b64").value.length > 0);
  await submit(page.locator("#hover-button"));
  const refusedReason = await page.locator("#result").getAttribute("data-reason");
  if (refusedReason !== "bad_image") fail(`upload of a non-image: reason ${refusedReason}`);
  await shot("scanner-hover-capture-refused");
  step(`non-image upload refused: ${(await page.locator("#result-reason").innerText()).trim()}`);

  // ---- Keyboard only: sign in to the portal
  await page.goto(base + "/account");
  await shot("account-sign-in");
  await tabTo("#phone");
  await typeText(PHONE);
  await keySubmit();
  await audit("account-code");
  if (!(await page.locator("#different-number").count())) fail("no 'use a different number' on the code step");
  const portalCode = (await page.locator("#dev-code").innerText()).trim();
  await tabTo("#code");
  await typeText(portalCode);
  await keySubmit();
  if (!(await page.locator("#me-phone").count())) fail(`keyboard sign-in failed: ${await banner()}`);
  step(`keyboard-only sign-in: ${keySteps} key presses`);
  const afterReload = await paymentsInHistory();
  if (afterReload !== 1) fail(`after reload, back and forward the history shows ${afterReload} payments`);
  await shot("account-history");
  step("the history shows one payment");

  // ---- A double click on Hover pays once
  await page.goto(base + "/scanner");
  await page.fill("#amount", "12.50");
  await synthetic(2, probe);
  await Promise.all([page.waitForNavigation(), page.locator("#hover-button").dblclick()]);
  await page.waitForLoadState("load");
  await page.waitForSelector("#result");
  const afterDouble = await paymentsInHistory();
  if (afterDouble !== 2) fail(`a double click gave ${afterDouble - 1} payments`);
  step("a double click on Hover paid once");

  // ---- Keyboard only: hover again from the result (entry at a door)
  await hover("payment", probe, 2);
  const before = keySteps;
  await tabTo("#purpose", true);
  await key("ArrowDown"); // Open a door
  await tabTo("#hover-button");
  await keySubmit();
  const kb = await hoverResult();
  if (!kb.outcome) fail("keyboard hover gave no result");
  await expectFocus("#result", "keyboard hover result");
  await audit("scanner-hover-entry");
  step(`keyboard-only hover: ${keySteps - before} key presses → ${kb.outcome}`);

  // ---- Phone-sized screen (390x844): the same cookies, screenshots, primary action in view
  const phoneCtx = await newContext(PHONE_VIEW, await context.storageState());
  const desktop = page;
  page = watch(await phoneCtx.newPage());
  for (const [path, name] of [
    ["/scanner", "scanner-phone"],
    ["/scanner?mode=kiosk", "scanner-kiosk-phone"],
    ["/account", "account-phone"],
    ["/console/devices", "console-devices-phone"],
  ]) {
    await page.goto(base + path);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (over > 1) problems.push(`${path}: ${over}px horizontal overflow at 390px`);
    await shot(name);
  }
  await page.goto(base + "/scanner");
  const bottom = await page.locator("#hover-button").evaluate((b) => b.getBoundingClientRect().bottom);
  if (bottom > PHONE_VIEW.height) problems.push(`Hover button ends at ${bottom}px, below the ${PHONE_VIEW.height}px screen`);
  step(`390x844: Hover button bottom at ${Math.round(bottom)}px`);
  await synthetic(2, probe);
  await submit(page.locator("#hover-button"));
  await shot("scanner-hover-phone");
  await page.goto(base + "/");
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
  if (first !== "Skip to content") problems.push(`first Tab stop is "${first}", not the skip link`);
  await phoneCtx.close();
  page = desktop;

  // ---- Portal: a bad card, delete palm data behind a confirmation
  await page.goto(base + "/account");
  await page.fill("#card-number", "1234 5678 9012 3456");
  await page.fill("#card-month", "1");
  await page.fill("#card-year", "2030");
  await submit(page.getByRole("button", { name: "Add card" }));
  step(`portal bad card: "${await expectAlert("account-bad-card")}"`);
  await expectFocus("#card-number", "portal bad card");
  await submit(page.locator("#delete-palms"));
  await shot("account-delete-confirm");
  await submit(page.locator("#confirm-yes"));
  const deleted = await banner();
  if (!deleted.startsWith("Palm data deleted (1 hand)")) fail(`delete palm data: ${deleted}`);
  await shot("account-palm-deleted");
  step(deleted);

  // ---- The same palm is now refused; forgetting the scanner asks first
  const after = await hover("payment", probe, 2);
  step(`hover after deletion: ${after.outcome}`);
  if (after.outcome !== "no_match") fail(`after deletion the hover gave ${after.outcome}`);
  await shot("scanner-hover-refused");
  await page.click("#forget-device");
  await page.waitForLoadState("load");
  await shot("scanner-forget-confirm");
  await page.click("#confirm-no");
  await page.waitForLoadState("load");
  if (!(await page.locator("#device-name").count())) fail("cancelling 'forget' forgot the scanner");

  // ---- Tenant transactions, device revoke confirmation, operator system and audit
  await page.goto(base + "/console/transactions");
  const tx = await page.locator("main table").innerText();
  if (!tx.includes("Payment authorized") || !tx.includes("Palm not recognised")) fail(`transactions: ${tx}`);
  await shot("console-transactions");
  await page.goto(base + "/console/devices");
  await page.click("a:text('Revoke…')");
  await page.waitForLoadState("load");
  await shot("console-revoke-confirm");
  await page.goto(base + "/console/devices");
  await submit(page.getByRole("button", { name: "Sign out" }));
  await page.fill("#admin-token", ADMIN);
  await submit(page.locator('form:has(#admin-token) button[type="submit"]'));
  await page.goto(base + "/console/system");
  await page.waitForTimeout(2300); // one live refresh
  const gallery = (await page.locator('[data-stat="gallery_palms"]').innerText()).trim();
  if (gallery !== "0") fail(`gallery after deletion: ${gallery}`);
  await shot("console-operator-system");
  await page.goto(base + "/console/audit");
  await shot("console-operator-audit");
} catch (e) {
  problems.push(`flow failed at ${page.url()}: ${e.message}`);
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}

const secs = ((Date.now() - t0) / 1000).toFixed(1);
const violations = audited.reduce((n, [, v]) => n + v, 0);
console.log(`axe: ${audited.length} page states, ${violations} violations`);
for (const [state, v] of audited) console.log(`  axe ${v} violations: ${state}`);
console.log(`keyboard-only: ${keySteps} key presses; viewports: 1200x900, 390x844`);
if (problems.length) {
  console.error(`FAILED after ${secs}s:\n - ${problems.join("\n - ")}`);
  process.exit(1);
}
console.log(`browser e2e passed in ${secs}s`);

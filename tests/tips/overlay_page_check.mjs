// Headless Chromium on the studio's OBS alert page.
//
//   node overlay_page_check.mjs --page http://127.0.0.1:PORT/overlay/SECRET/ --bad URL --count N
//
// Prints `READY` once the page listens to the queue, then `RESULT {json}` as its last line:
// the alerts the page showed (id, text, when), the status of the wrong-secret URL and the
// page's background colour.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const count = Number(args.count || 1);
const settleMs = Number(args.settle || 1000);

const profile = mkdtempSync(join(tmpdir(), "harmonie-overlay-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--autoplay-policy=no-user-gesture-required"],
});
const result = {};
try {
  const page = await browser.newPage();
  const bad = await page.goto(args.bad);
  result.bad_status = bad.status();
  result.bad_body = (await bad.text()).slice(0, 200);
  const good = await page.goto(args.page);
  result.status = good.status();
  await page.waitForFunction(() => window.__connected === true, null, { timeout: 20000 });
  result.background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  console.log("READY");
  await page.waitForFunction((n) => window.__shown.length >= n, count, {
    timeout: Number(args.timeout || 60000), polling: "raf",
  });
  await page.waitForTimeout(settleMs); // an alert shown twice would show up here
  result.shown = await page.evaluate(() => window.__shown);
} catch (error) {
  result.error = String(error);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log("RESULT " + JSON.stringify(result));

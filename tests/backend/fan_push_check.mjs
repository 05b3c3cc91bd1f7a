// Headless Chromium on the real fan page (/fan/?artist=...): the "Notify me when <artist>
// goes live" button, signed in as a fan. Chromium's push service (FCM) cannot be reached
// from here, so subscribing fails and the page must say so without throwing. The service
// worker the button registered is then handed a push through the DevTools protocol
// (ServiceWorker.deliverPushMessage, as the push service would) and must show it. A second
// page without the Push API must hide the button and say why.
//
//   node fan_push_check.mjs --page URL --token JWT --fan 0x... --payload JSON --shot PATH
//
// Prints `RESULT {json}` as its last line.
import { launchChromium } from "../live_relay/chromium.mjs";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const { browser, close } = await launchChromium([], { viewport: { width: 1100, height: 900 } });
const result = { errors: [], noPushErrors: [] };
const text = (page, selector) => page.textContent(selector).then((t) => (t || "").trim());
try {
  const origin = new URL(args.page).origin;
  await browser.grantPermissions(["notifications"], { origin });
  const page = await browser.newPage();
  page.on("pageerror", (err) => result.errors.push(String(err)));
  const cdp = await browser.newCDPSession(page);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations: r }) => registrations.push(...r));
  result.workerErrors = [];
  result.versions = [];
  cdp.on("ServiceWorker.workerErrorReported", ({ errorMessage }) => result.workerErrors.push(errorMessage));
  cdp.on("ServiceWorker.workerVersionUpdated", ({ versions }) =>
    result.versions.push(...versions.map((v) => `${v.versionId}:${v.runningStatus}:${v.status}`)));
  await cdp.send("ServiceWorker.enable");
  await page.goto(args.page);
  await page.evaluate(({ token, fan }) => { window.harmonie.token = token; window.harmonie.address = fan; },
                      { token: args.token, fan: args.fan });
  await page.waitForSelector("#push-notify:not([hidden])", { timeout: 20000 });
  result.label = await text(page, "#push-notify");
  await page.click("#push-notify");
  try {
    await page.waitForFunction(() => /[^…\s]$/.test(document.getElementById("push-status").textContent.trim()),
                               null, { timeout: 60000 });
  } finally {
    result.status = await text(page, "#push-status");
  }
  result.scope = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return registration ? registration.scope : null;
  });

  // the push service's part, played by DevTools: deliver the backend's payload to the worker
  const registration = registrations.find((r) => r.scopeURL === result.scope && !r.isDeleted);
  result.registrations = registrations;
  if (registration) {
    // Chromium now and then drops a push handed over through DevTools while the worker is
    // idle (no error anywhere; cause not found): hand it over again, at most 3 times, and say so.
    result.deliveries = 0;
    result.notifications = [];
    while (result.deliveries < 3 && !result.notifications.length) {
      result.deliveries += 1;
      await cdp.send("ServiceWorker.deliverPushMessage",
                     { origin, registrationId: registration.registrationId, data: args.payload });
      result.notifications = await page.evaluate(async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        for (let i = 0; i < 100; i++) {
          const shown = await reg.getNotifications();
          if (shown.length) return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
          await new Promise((r) => setTimeout(r, 100));
        }
        return [];
      });
    }
  }
  await page.screenshot({ path: args.shot });

  // a browser without the Push API
  const bare = await browser.newPage();
  bare.on("pageerror", (err) => result.noPushErrors.push(String(err)));
  await bare.addInitScript(() => { delete window.PushManager; });
  await bare.goto(args.page);
  await bare.waitForFunction(() => document.getElementById("push-status").textContent.trim() !== "");
  await bare.waitForTimeout(1500); // refresh() runs each second: it must keep the button hidden
  result.noPushHidden = await bare.$eval("#push-notify", (b) => b.hidden);
  result.noPushStatus = await text(bare, "#push-status");
} catch (err) {
  result.errors.push(`check failed: ${err.stack || err}`);
} finally {
  await close();
}
console.log("RESULT " + JSON.stringify(result));

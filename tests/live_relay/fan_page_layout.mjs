// Headless Chromium opens the fan page as a fan without a browser wallet, at a desktop and a
// phone size, and reports what that fan sees, as JSON.
//
//   node fan_page_layout.mjs --url http://127.0.0.1:PORT --out DIR [--stream ID]
//
// Without --stream: the empty "Live now" list. With it: the fan opens the show's link; the
// browser starts it muted (autoplay with sound needs a tap), so the page must offer to
// unmute; the chat is readable without signing in; the Tip button is on screen without
// scrolling, and the Tip panel shows the artist, the address and an EIP-681 QR code.
// Screenshots go to DIR. The last line printed is `RESULT {json}`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const SIZES = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
];

const profile = mkdtempSync(join(tmpdir(), "harmonie-fan-layout-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    // what browsers do for a page the fan has not touched yet: no sound without a tap
    "--autoplay-policy=document-user-activation-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--force-webrtc-ip-handling-policy=default",
  ],
});

// Headless Chromium plays sound without a tap whatever the policy flag says; a phone's
// browser does not. Play it as a phone does: with sound only after the fan touched the page.
await browser.addInitScript(() => {
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !navigator.userActivation.hasBeenActive) {
      return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
});

function onScreen(page, selector) {
  return page.evaluate((selector) => {
    const node = document.querySelector(selector);
    if (!node) return { exists: false };
    const r = node.getBoundingClientRect();
    return {
      exists: true, top: r.top, bottom: r.bottom, width: r.width, height: r.height,
      scrollY: window.scrollY, innerHeight: window.innerHeight, innerWidth: window.innerWidth,
      visible: r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
        && r.left >= 0 && r.right <= window.innerWidth,
    };
  }, selector);
}

async function emptyList(page, size) {
  await page.goto(`${args.url}/fan/`);
  await page.waitForFunction(() => !document.querySelector("#stream-list .empty")
    .textContent.startsWith("Looking"));
  await page.screenshot({ path: join(args.out, `fan-empty-${size.name}.png`) });
  return { emptyText: await page.textContent("#stream-list .empty") };
}

async function watching(page, size) {
  const out = {};
  // the link the artist shares (Share in the studio): the fan has not touched the page yet
  await page.goto(`${args.url}/fan/?stream=${encodeURIComponent(args.stream)}`);
  await page.waitForSelector(`#stream-list button[data-stream="${args.stream}"]`);
  out.listed = await page.textContent(`#stream-list button[data-stream="${args.stream}"]`);
  // playing, muted by the browser, with the banner up
  await page.waitForFunction(() => {
    const v = document.getElementById("player");
    return v.currentTime > 0.3 && !document.getElementById("unmute").hidden;
  }, null, { timeout: 30000 });
  out.startedMuted = await page.evaluate(() => document.getElementById("player").muted);
  out.unmute = await onScreen(page, "#unmute");
  out.unmuteText = await page.textContent("#unmute");
  // the Tip button, without scrolling
  await page.waitForSelector("#tip-slot .tip-open", { timeout: 15000 });
  out.tipButton = await onScreen(page, "#tip-slot .tip-open");
  // the chat: readable without signing in, writable only after
  await page.waitForFunction(() => document.querySelectorAll("#chat-log li").length > 0,
    null, { timeout: 15000 });
  out.chatLines = await page.$$eval("#chat-log li", (lis) => lis.map((li) => li.textContent));
  out.chatInput = await page.evaluate(() => ({
    disabled: document.getElementById("chat-text").disabled,
    placeholder: document.getElementById("chat-text").placeholder,
  }));
  await page.click("#sign-in");
  out.signInWithoutWallet = await page.textContent("#chat-status");
  await page.screenshot({ path: join(args.out, `fan-watching-${size.name}.png`) });
  // the Tip panel without a wallet
  await page.click("#tip-slot .tip-open");
  await page.waitForSelector("#tip-slot .tip-qr svg", { timeout: 30000 });
  out.tip = await page.evaluate(() => {
    const box = document.querySelector("#tip-slot .harmonie-tip");
    return {
      title: box.querySelector(".tip-title").textContent,
      unit: box.querySelector(".tip-unit").textContent,
      address: box.querySelector(".tip-address").textContent,
      uri: box.dataset.paymentUri,
      href: box.querySelector(".tip-uri").getAttribute("href"),
      modules: Number(box.querySelector(".tip-qr svg").dataset.modules),
      sendVisible: !box.querySelector(".tip-send").hidden,
      messageVisible: !box.querySelector(".tip-message").hidden,
    };
  });
  out.qr = await onScreen(page, "#tip-slot .tip-qr");
  await page.screenshot({ path: join(args.out, `fan-tip-${size.name}.png`), fullPage: true });
  await page.fill("#tip-slot .tip-amount", "1.5");
  await page.waitForFunction(() => (document.querySelector("#tip-slot .harmonie-tip")
    .dataset.paymentUri || "").endsWith("?value=1500000000000000000"));
  out.uriAfterAmount = await page.evaluate(
    () => document.querySelector("#tip-slot .harmonie-tip").dataset.paymentUri);
  await page.fill("#tip-slot .tip-amount", "abc");
  await page.waitForFunction(() => !document.querySelector("#tip-slot .tip-qr svg"));
  out.badAmount = await page.textContent("#tip-slot .tip-status");
  // a tap unmutes
  await page.click("#unmute");
  await page.waitForFunction(() => document.getElementById("unmute").hidden);
  out.mutedAfterTap = await page.evaluate(() => document.getElementById("player").muted);
  return out;
}

const result = {};
let page = null;
try {
  for (const size of SIZES) {
    page = await browser.newPage();
    await page.setViewportSize({ width: size.width, height: size.height });
    result[size.name] = args.stream ? await watching(page, size) : await emptyList(page, size);
    await page.close();
  }
} catch (err) {
  result.error = String(err && err.stack || err);
  if (page) {  // what the page showed when it went wrong
    result.errorPage = await page.evaluate(() => {
      const v = document.getElementById("player");
      return { status: document.getElementById("status").textContent, muted: v.muted,
               paused: v.paused, time: v.currentTime, unmuteHidden: document.getElementById("unmute").hidden,
               pc: window.harmonie.pc && window.harmonie.pc.connectionState };
    }).catch((e) => String(e));
    await page.screenshot({ path: join(args.out, "fan-error.png") }).catch(() => {});
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log("RESULT " + JSON.stringify(result));

// Headless Chromium tips through tip.js with an EIP-1193 wallet that forwards to anvil.
//
//   node fan_tip_check.mjs --page http://127.0.0.1:PORT/ --rpc http://127.0.0.1:ANVIL --fan 0x...
//
// Prints `RESULT {json}` as its last line.
import { launchChromium } from "../live_relay/chromium.mjs";
import { installDevWallet } from "../support/dev_wallet.mjs";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const { browser, close } = await launchChromium([]);
const result = {};
try {
  await installDevWallet(browser, { rpc: args.rpc, fan: args.fan });
  const page = await browser.newPage();
  const alerts = [];
  page.on("dialog", async (d) => { alerts.push(d.message()); await d.dismiss(); });
  await page.goto(args.page);
  await page.waitForSelector(".harmonie-tip .tip-open");

  // bad input first: a message over 280 bytes and a zero amount are refused before the wallet
  await page.click(".tip-open");
  await page.fill(".tip-amount", "0.01");
  await page.fill(".tip-message", "é".repeat(141));
  await page.click(".tip-send");
  await page.waitForFunction(() => document.querySelector(".tip-status").textContent.includes("too long"));
  result.tooLong = await page.textContent(".tip-status");
  await page.fill(".tip-message", "");
  await page.fill(".tip-amount", "0");
  await page.click(".tip-send");
  await page.waitForFunction(() => document.querySelector(".tip-status").textContent.includes("more than zero"));
  result.zero = await page.textContent(".tip-status");
  result.callsBeforeTip = await page.evaluate(() => window.walletCalls.length);

  await page.fill(".tip-amount", args.amount);
  await page.fill(".tip-message", args.message);
  await page.click(".tip-send");
  await page.waitForSelector(".harmonie-tip[data-tx-hash]", { timeout: 20000 });
  result.txHash = await page.getAttribute(".harmonie-tip", "data-tx-hash");
  result.status = await page.textContent(".tip-status");
  result.injected = await page.evaluate(() => document.querySelectorAll(".harmonie-tip img, .harmonie-tip b").length);
  result.walletCalls = await page.evaluate(() => window.walletCalls);
  result.encoded = await page.evaluate(() => window.HarmonieTip.encodeTip("0x" + "ab".repeat(20), "hé"));
  result.formatted = await page.evaluate(() => window.HarmonieTip.formatAmount(window.HarmonieTip.parseAmount(".000000000000000001")));
  result.alerts = alerts;

  // on the fan page, the stage of the watched stream gets a Tip button for its artist
  await page.goto(new URL("follow.html", args.page).href);
  await page.waitForSelector("#stage > .harmonie-tip .tip-open", { timeout: 10000 });
  result.followedArtist = await page.getAttribute("#stage", "data-tip-artist");
} finally {
  await close();
}
console.log("RESULT " + JSON.stringify(result));

// Headless Chromium on the real fan page (/fan/?artist=...): the Tracks view with an EIP-1193
// wallet that forwards to the backend's devnet (/rpc). Buys an edition, is refused a
// supporters-only track, subscribes for 2 periods, unlocks it, sees the collection and a
// supporter badge on its chat line.
//
//   node fan_tracks_check.mjs --page URL --rpc URL --fan 0x... --token JWT --shot PATH
//
// Prints `RESULT {json}` as its last line.
import { launchChromium } from "../live_relay/chromium.mjs";
import { installDevWallet } from "../support/dev_wallet.mjs";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const { browser, close } = await launchChromium([], { viewport: { width: 1100, height: 1300 } });
const result = { errors: [] };
const text = (page, selector) => page.textContent(selector).then((t) => (t || "").trim());
try {
  await installDevWallet(browser, { rpc: args.rpc, fan: args.fan });
  const page = await browser.newPage();
  page.on("pageerror", (err) => result.errors.push(String(err)));
  await page.goto(args.page);
  // signed in as the fan (fan.js's sign-in is tested on its own)
  await page.evaluate(({ token, fan }) => { window.harmonie.token = token; window.harmonie.address = fan; },
                      { token: args.token, fan: args.fan });
  await page.waitForSelector("#tracks-sale li.listing button.buy", { timeout: 20000 });
  await page.waitForSelector("#tracks-public li.track audio", { timeout: 20000 });
  result.listings = await page.$$eval("#tracks-sale li.listing", (rows) => rows.map((r) => r.dataset.tokenId));
  result.publicSrc = await page.getAttribute("#tracks-public li.track audio", "src");
  result.buyLabel = await text(page, "#tracks-sale li.listing button.buy");

  // a supporters-only track before subscribing: refused, saying why
  await page.click("#tracks-gated li.gated button.unlock");
  await page.waitForFunction(() => document.getElementById("tracks-status").textContent.includes("Supporters only"));
  result.refused = await text(page, "#tracks-status");

  // buy the first edition
  const token = result.listings[0];
  await page.click(`#tracks-sale li.listing[data-token-id="${token}"] button.buy`);
  await page.waitForFunction(() => document.getElementById("tracks-status").textContent.startsWith("Bought"),
                             null, { timeout: 20000 });
  result.bought = await text(page, "#tracks-status");
  result.boughtToken = token;

  // subscribe for 2 periods with the first tier
  await page.fill("#tracks-tiers li.tier input.periods", "2");
  await page.click("#tracks-tiers li.tier button.subscribe");
  await page.waitForFunction(() => document.getElementById("tracks-status").textContent.startsWith("Subscribed"),
                             null, { timeout: 20000 });
  result.subscribed = await text(page, "#tracks-status");
  result.subscribeTx = await page.getAttribute("#tracks-tiers li.tier", "data-tx-hash");

  // now the key is released and the page decrypts the track (the index may take a moment:
  // the key check reads the chain itself)
  await page.click("#tracks-gated li.gated button.unlock");
  await page.waitForSelector("#tracks-gated li.gated[data-unlocked] audio", { timeout: 20000 });
  result.unlockedBytes = Number(await page.getAttribute("#tracks-gated li.gated", "data-unlocked"));
  result.unlockedStatus = await text(page, "#tracks-status");

  // my collection shows the edition and the subscription once indexed
  await page.waitForFunction(() => {
    const c = document.getElementById("tracks-collection").textContent;
    return c.includes("Edition #") && c.includes("Supporter of");
  }, null, { timeout: 20000, polling: 500 });
  result.collection = await page.$$eval("#tracks-collection li", (rows) => rows.map((r) => r.textContent));

  // a chat line from the fan gets the supporter badge (fan.js renders it; tracks.js badges it);
  // the stage is hidden with no stream: show it, its chat next to the tracks
  await page.evaluate(() => { document.getElementById("stage").hidden = false; });
  await page.evaluate((fan) => {
    addChatLine({ id: 1, sender: fan, sender_name: "Fan <b>one</b>", text: "love it" });
    addChatLine({ id: 2, sender: "0x" + "12".repeat(20), sender_name: "someone", text: "hi" });
  }, args.fan);
  await page.evaluate(() => window.HarmonieTracks.refreshBadges());
  await page.waitForSelector('#chat-log li[data-id="1"] .supporter-badge', { timeout: 10000 });
  result.badges = await page.$$eval("#chat-log li", (rows) => rows.map((r) => !!r.querySelector(".supporter-badge")));
  result.injected = await page.evaluate(() => document.querySelectorAll("#tracks b, #chat-log b").length);
  result.walletCalls = await page.evaluate(() => window.walletCalls);
  result.encodedSubscribe = await page.evaluate(() => window.HarmonieTracks.encodeSubscribe("0x" + "ab".repeat(20), 1, 2));
  result.badPeriods = await page.evaluate(() => {
    try { window.HarmonieTracks.encodeSubscribe("0x" + "ab".repeat(20), 0, 0); return null; }
    catch (err) { return err.message; }
  });
  await page.screenshot({ path: args.shot, fullPage: true });
} catch (err) {
  result.failure = String(err && err.stack || err);
} finally {
  await close();
}
console.log("RESULT " + JSON.stringify(result));

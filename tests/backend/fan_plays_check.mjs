// Headless Chromium on the real fan page (/fan/?artist=...): a fan who is not signed in plays
// a public track for 30 s of playback (at 16x speed, so it takes 2 s) and the page reports one
// play; the page is opened again (same profile, same localStorage id), played again, and the
// backend answers that this listener was already counted this hour.
//
//   node fan_plays_check.mjs --page URL
//
// Prints `RESULT {json}` as its last line.
import { launchChromium } from "../live_relay/chromium.mjs";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];

const { browser, close } = await launchChromium(["--autoplay-policy=no-user-gesture-required"]);
const result = { errors: [], reports: [] };
const AUDIO = "#tracks-public li.track audio[data-track-id]";

async function playOnce(page) {
  await page.goto(args.page);
  await page.waitForSelector(AUDIO, { timeout: 20000 });
  await page.$eval(AUDIO, (audio) => { audio.muted = true; audio.playbackRate = 16; return audio.play(); });
  await page.waitForFunction((sel) => {
    const state = document.querySelector(sel).dataset.playReport || "";
    return state && state !== "sending";
  }, AUDIO, { timeout: 30000 });
  return page.$eval(AUDIO, (audio) => ({
    report: audio.dataset.playReport, trackId: audio.dataset.trackId, at: audio.currentTime,
  }));
}

try {
  const page = await browser.newPage();
  page.on("pageerror", (err) => result.errors.push(String(err)));
  result.reports.push(await playOnce(page));
  result.listener = await page.evaluate(() => localStorage.getItem("harmonie:listener"));
  result.reports.push(await playOnce(page)); // opened again: the same listener id
  result.listenerAgain = await page.evaluate(() => localStorage.getItem("harmonie:listener"));
} catch (err) {
  result.failure = String(err && err.stack || err);
} finally {
  await close();
}
console.log("RESULT " + JSON.stringify(result));

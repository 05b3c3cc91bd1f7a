// Headless Chromium watches a stream on the fan page and reports what it decoded, as JSON.
//
//   node fan_page_check.mjs --url http://127.0.0.1:PORT --stream NAME [--seconds 4]
//        [--phases 2] [--latency] [--viewers 1] [--screenshot page.png]
//        [--wallet-rpc http://127.0.0.1:8545 --chat "hello"]
//
// --wallet-rpc injects an EIP-1193 provider backed by that JSON-RPC node (anvil's unlocked
// dev accounts sign), then the page signs in with it and sends --chat; the result says
// whether the message came back through the chat socket.
//
// Each phase measures for --seconds and prints `PHASE {json}`; between phases the script
// waits for a line on stdin (the caller drops the network meanwhile). The last line printed
// is `RESULT {json}` with every phase. --latency reads the wall clock stamped into the
// pixels (48 blocks across the top, see packet_source.py) at each decoded frame.
import { createInterface } from "node:readline";
import { rmSync } from "node:fs";
import { launchChromium } from "./chromium.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, arg, i, all) => {
    if (arg.startsWith("--")) acc.push([arg.slice(2), all[i + 1]?.startsWith("--") || all[i + 1] === undefined ? "1" : all[i + 1]]);
    return acc;
  }, []),
);
const seconds = Number(args.seconds || 4);
const phases = Number(args.phases || 1);
const viewers = Number(args.viewers || 1);
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const { browser, profile } = await launchChromium(["--autoplay-policy=no-user-gesture-required"]);

function measure(page, ms, latency) {
  return page.evaluate(async ({ ms, latency }) => {
    const video = document.getElementById("player");
    const pc = window.harmonie.pc;
    async function inbound() {
      const out = {};
      if (!pc) return out;
      (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp") out[s.kind] = s; });
      return out;
    }
    // Sound: the loudest bin of an analyser on the received stream.
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    const audioTracks = video.srcObject ? video.srcObject.getAudioTracks() : [];
    if (audioTracks.length) ctx.createMediaStreamSource(new MediaStream(audioTracks)).connect(analyser);
    await ctx.resume();
    // Pictures: every decoded frame, with the clock stamp read back when asked.
    const canvas = document.createElement("canvas");
    const g = canvas.getContext("2d", { willReadFrequently: true });
    const delays = [];
    let callbacks = 0;
    let running = true;
    const onFrame = () => {
      if (!running) return;
      callbacks += 1;
      if (latency && video.videoWidth) {
        const now = Date.now();
        const w = video.videoWidth, h = video.videoHeight;
        canvas.width = w; canvas.height = h;
        g.drawImage(video, 0, 0, w, h);
        const block = Math.floor(w / 24);
        const rows = g.getImageData(0, 0, w, block * 2).data;
        let stamp = 0n;
        for (let bit = 0; bit < 48; bit++) {
          const row = Math.floor(bit / 24), col = bit % 24;
          const x = col * block + (block >> 1), y = row * block + (block >> 1);
          const i = (y * w + x) * 4;
          const luma = 0.299 * rows[i] + 0.587 * rows[i + 1] + 0.114 * rows[i + 2];
          stamp = (stamp << 1n) | (luma > 128 ? 1n : 0n);
        }
        const delay = now - Number(stamp);
        if (delay >= 0 && delay < 10000) delays.push(delay);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    const before = await inbound();
    const t0 = performance.now();
    const peaks = [];
    const bins = new Float32Array(analyser.frequencyBinCount);
    while (performance.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 250));
      analyser.getFloatFrequencyData(bins);
      let best = 0;
      for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
      if (bins[best] > -100) peaks.push((best * ctx.sampleRate) / analyser.fftSize);
    }
    running = false;
    const elapsed = (performance.now() - t0) / 1000;
    const after = await inbound();
    await ctx.close();
    const v0 = before.video || {}, v1 = after.video || {};
    const a1 = after.audio || {};
    peaks.sort((a, b) => a - b);
    return {
      seconds: elapsed,
      connection: pc ? pc.connectionState : "none",
      frames_decoded: v1.framesDecoded || 0,
      fps: ((v1.framesDecoded || 0) - (v0.framesDecoded || 0)) / elapsed,
      frame_callbacks: callbacks,
      width: v1.frameWidth || video.videoWidth, height: v1.frameHeight || video.videoHeight,
      video_codec_frames_dropped: v1.framesDropped || 0,
      audio_samples: a1.totalSamplesReceived || 0,
      tone_hz: peaks.length ? peaks[Math.floor(peaks.length / 2)] : null,
      latency_ms: delays,
    };
  }, { ms, latency });
}

const result = { phases: [], viewers };
try {
  const pages = [];
  if (args["wallet-rpc"]) {
    // A minimal browser wallet: every request goes to the node, accounts are the node's.
    await browser.addInitScript((rpc) => {
      let id = 0;
      const call = async (method, params) => {
        const response = await fetch(rpc, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }),
        });
        const body = await response.json();
        if (body.error) throw Object.assign(new Error(body.error.message), body.error);
        return body.result;
      };
      window.ethereum = {
        isTestWallet: true,
        request: ({ method, params }) =>
          call(method === "eth_requestAccounts" ? "eth_accounts" : method, params),
      };
    }, args["wallet-rpc"]);
  }
  for (let i = 0; i < viewers; i++) {
    const page = await browser.newPage();
    page.on("console", (m) => { if (m.type() === "error") process.stderr.write(`page: ${m.text()}\n`); });
    await page.goto(`${args.url}/fan/?stream=${encodeURIComponent(args.stream)}`);
    pages.push(page);
  }
  for (const page of pages) {
    await page.waitForFunction(() => {
      const v = document.getElementById("player");
      return v && v.videoWidth > 0 && v.currentTime > 0;
    }, null, { timeout: 30000 });
  }
  result.status_text = await pages[0].evaluate(() => document.getElementById("status").textContent);
  // The list refreshes every 3 s: wait for the refresh that counts the viewers now watching.
  await pages[0].waitForFunction(
    (n) => window.harmonie.streams.some((s) => s.viewers >= n), viewers, { timeout: 10000 },
  ).catch(() => { /* the assertion on `listed` reports what the page showed */ });
  result.listed = await pages[0].evaluate(() => window.harmonie.streams.map((s) => [s.stream, s.viewers]));
  for (let p = 0; p < phases; p++) {
    if (p > 0) {
      await stdinLines.next();
      // After a long drop the page plays again on a new connection of its own making.
      await Promise.all(pages.map((page) => page.waitForFunction(
        () => window.harmonie.pc && window.harmonie.pc.connectionState === "connected",
        null, { timeout: 60000 },
      ).catch(() => { /* the phase reports the state it found */ })));
    }
    const measured = await Promise.all(pages.map((page) => measure(page, seconds * 1000, Boolean(args.latency))));
    const phase = { viewers: measured };
    result.phases.push(phase);
    console.log(`PHASE ${JSON.stringify({ index: p, fps: measured.map((m) => m.fps) })}`);
  }
  result.reconnects = await pages[0].evaluate(() => window.harmonie.reconnects);
  result.status_after = await pages[0].evaluate(() => document.getElementById("status").textContent);
  if (args.chat) {
    const page = pages[0];
    await page.click("#sign-in");
    await page.waitForSelector("#who:not([hidden])", { timeout: 20000 }).catch(() => {});
    await page.waitForFunction(() => !document.getElementById("chat-text").disabled, null, { timeout: 20000 }).catch(() => {});
    result.chat_status = await page.evaluate(() => document.getElementById("chat-status").textContent);
    result.signed_in = await page.evaluate(() => window.harmonie.address);
    if (result.signed_in) {
      await page.fill("#chat-text", args.chat);
      await page.click("#chat-send");
      await page.waitForFunction(
        (text) => [...document.querySelectorAll("#chat-log li")].some((li) => li.textContent.includes(text)),
        args.chat, { timeout: 20000 },
      ).catch(() => {});
    }
    result.chat_log = await page.evaluate(() => [...document.querySelectorAll("#chat-log li")].map((li) => li.textContent));
  }
  if (args.screenshot) await pages[0].screenshot({ path: args.screenshot });
} catch (err) {
  result.error = String(err && err.stack || err);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`RESULT ${JSON.stringify(result)}`);
process.exit(0);

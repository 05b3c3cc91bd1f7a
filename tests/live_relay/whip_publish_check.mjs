// Headless Chromium publishes its fake camera and microphone to a WHIP endpoint, as a
// browser-based WHIP client would: RTCPeerConnection, sendonly transceivers, one offer
// with every candidate gathered, POST with a Bearer token, the answer applied.
//
//   node whip_publish_check.mjs --url http://127.0.0.1:PORT --stream NAME --token TOKEN
//        [--video-codec H264]   (offer only that video codec, as WHIP clients often do)
//        [--no-candidates]      (POST before gathering, so the offer has no candidates, as
//                                OBS's libdatachannel offer can: the relay must learn the
//                                publisher's address from its connectivity checks)
//
// Prints `CONNECTED {json}` (or `FAILED {json}`) once the connection settles, then keeps
// publishing until a line arrives on stdin, and prints `RESULT {json}` with the sender stats.
import { createInterface } from "node:readline";
import { launchChromium } from "./chromium.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, arg, i, all) => {
    if (arg.startsWith("--")) acc.push([arg.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
// A camera and a microphone without hardware.
const { browser, close } = await launchChromium(["--use-fake-device-for-media-stream"]);

try {
  const page = await browser.newPage();
  // Same origin as the endpoint, so the POST needs no CORS.
  await page.goto(`${args.url}/relay/live`);
  const settled = await page.evaluate(async ({ endpoint, token, videoCodec, waitGathering }) => {
    const media = await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: 320, height: 240, frameRate: 30 },
    });
    const pc = new RTCPeerConnection();
    window.whipPc = pc;
    for (const track of media.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: "sendonly" });
      if (track.kind === "video" && videoCodec) {
        const wanted = RTCRtpSender.getCapabilities("video").codecs.filter(
          (c) => c.mimeType.toLowerCase() === `video/${videoCodec.toLowerCase()}`,
        );
        if (!wanted.length) return { state: "no-codec", codec: videoCodec };
        transceiver.setCodecPreferences(wanted);
      }
    }
    const offer = await pc.createOffer();  // never has candidates
    await pc.setLocalDescription(offer);
    if (waitGathering) {
      await new Promise((resolve) => {
        if (pc.iceGatheringState === "complete") return resolve();
        pc.addEventListener("icegatheringstatechange", () => {
          if (pc.iceGatheringState === "complete") resolve();
        });
      });
    }
    const sentOffer = waitGathering ? pc.localDescription.sdp : offer.sdp;
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
      body: sentOffer,
    });
    const body = await response.text();
    if (response.status !== 201) return { state: "refused", status: response.status, body };
    await pc.setRemoteDescription({ type: "answer", sdp: body });
    const state = await new Promise((resolve) => {
      const check = () => {
        if (["connected", "failed", "closed"].includes(pc.connectionState)) resolve(pc.connectionState);
      };
      pc.addEventListener("connectionstatechange", check);
      check();
    });
    return { state, location: response.headers.get("Location"), offer: sentOffer };
  }, {
    endpoint: `${args.url}/whip/${encodeURIComponent(args.stream)}`,
    token: args.token,
    videoCodec: args["video-codec"] || null,
    waitGathering: !("no-candidates" in args),
  });
  console.log(`${settled.state === "connected" ? "CONNECTED" : "FAILED"} ${JSON.stringify(settled)}`);
  await stdinLines.next();
  const sent = await page.evaluate(async () => {
    const out = {};
    (await window.whipPc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp") {
        out[s.kind] = { packets: s.packetsSent, frames: s.framesEncoded ?? null, codec: s.codecId };
      }
    });
    window.whipPc.close();
    return out;
  });
  console.log(`RESULT ${JSON.stringify(sent)}`);
} catch (error) {
  console.log(`FAILED ${JSON.stringify({ state: "error", error: String(error) })}`);
} finally {
  await close();
}

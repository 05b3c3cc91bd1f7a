// Watching through a media server that makes the offer itself (Janus), brokered by the backend:
//   POST /watch/{stream}  -> 201, the server's SDP offer, Location: the viewer's session
//   PUT  {Location}       <- the page's SDP answer (all candidates in it: no trickle)
//   DELETE {Location}     when the fan leaves (fan.js's leave() does it)
// fan.js asks flowOf(stream) which flow a stream takes: its entry in /relay/live says, else
// /relay/config; fans never choose.
"use strict";

window.harmonieViewerFlow = (() => {
  async function flowOf(stream) {
    const entry = ((window.harmonie && window.harmonie.streams) || []).find((s) => s.stream === stream);
    if (entry && entry.viewer_flow) return entry.viewer_flow;
    try {
      const response = await fetch("/relay/config", { cache: "no-store" });
      if (response.ok) return (await response.json()).viewer_flow || "whep";
    } catch (err) { /* offline for a moment: WHEP's error will say so */ }
    return "whep";
  }

  async function refusal(response) {
    const text = (await response.text()).trim();
    return new Error(text || `the server answered ${response.status}`);
  }

  // Answers the server's offer on `pc`; returns the session's URL.
  async function answerServerOffer(pc, stream, gatheringComplete) {
    const response = await fetch(`/watch/${encodeURIComponent(stream)}`, { method: "POST" });
    if (response.status !== 201) throw await refusal(response);
    const session = new URL(response.headers.get("Location"), location.href).href;
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: await response.text() });
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheringComplete(pc);
      const answered = await fetch(session, {
        method: "PUT",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
      if (!answered.ok) throw await refusal(answered);
    } catch (err) {
      fetch(session, { method: "DELETE", keepalive: true }).catch(() => { /* gone already */ });
      throw err;
    }
    return session;
  }

  return { flowOf, answerServerOffer };
})();

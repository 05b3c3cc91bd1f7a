// HarmonieCORE fan page: report a play of a track after 30 s of playback (POST /plays).
//
// Every <audio data-track-id="N"> on the page is watched: the seconds it actually plays
// (its currentTime moving forward while playing; seeking does not count) add up, and at 30
// the page reports one play. The backend counts one play per listener per track per hour;
// the page does not send again for the same track within the hour either. The listener is
// the signed-in address (window.harmonie's token) or, for a fan not signed in, a random id
// kept in localStorage ("harmonie:listener"): no name, no address, nothing else about them.
"use strict";

(function () {
  const PLAY_AFTER_S = 30;
  const HOUR_MS = 3600 * 1000;
  const STEP_MAX_S = 5; // a larger jump of currentTime is a seek, not playback
  const KEY = "harmonie:listener";
  const watched = new WeakSet();
  const sentAt = new Map(); // track id -> when this page last reported it

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(18));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
  }

  let sessionId = null;
  function listenerId() {
    try {
      let id = localStorage.getItem(KEY);
      if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
        id = randomId();
        localStorage.setItem(KEY, id);
      }
      return id;
    } catch (err) { // storage refused (private mode): one id for this page's life
      sessionId = sessionId || randomId();
      return sessionId;
    }
  }

  async function report(trackId, playedS) {
    const headers = { "Content-Type": "application/json" };
    const state = window.harmonie || {};
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const body = { track_id: trackId, listener: listenerId(), played_s: playedS };
    const response = await fetch("/plays", { method: "POST", headers, body: JSON.stringify(body) });
    let answer = null;
    try { answer = await response.json(); } catch (err) { /* not JSON */ }
    if (!response.ok) throw new Error((answer && typeof answer.detail === "string") ? answer.detail : `HTTP ${response.status}`);
    return answer;
  }

  function watch(audio) {
    if (watched.has(audio)) return;
    const trackId = Number(audio.dataset.trackId);
    if (!Number.isInteger(trackId) || trackId < 1) return;
    watched.add(audio);
    let played = 0;
    let last = null;
    const reset = () => { last = audio.currentTime; };
    audio.addEventListener("playing", reset);
    audio.addEventListener("seeked", reset);
    audio.addEventListener("timeupdate", () => {
      if (audio.paused || audio.seeking || last === null) { reset(); return; }
      const step = audio.currentTime - last;
      last = audio.currentTime;
      if (step <= 0 || step > STEP_MAX_S * Math.max(1, audio.playbackRate)) return;
      played += step;
      const previous = sentAt.get(trackId);
      if (played < PLAY_AFTER_S || (previous && Date.now() - previous < HOUR_MS)) return;
      sentAt.set(trackId, Date.now());
      const seconds = played;
      played = 0;
      audio.dataset.playReport = "sending";
      report(trackId, seconds).then(
        (answer) => { audio.dataset.playReport = answer.counted ? "counted" : "not-counted"; },
        (err) => { sentAt.delete(trackId); audio.dataset.playReport = `failed: ${err.message}`; },
      );
    });
  }

  function scan(root) {
    if (root.nodeType !== 1) return;
    if (root.matches("audio[data-track-id]")) watch(root);
    root.querySelectorAll("audio[data-track-id]").forEach(watch);
  }

  function start() {
    scan(document.body);
    new MutationObserver((changes) => {
      for (const change of changes) change.addedNodes.forEach(scan);
    }).observe(document.body, { childList: true, subtree: true });
  }

  window.HarmoniePlays = { listenerId, watch, PLAY_AFTER_S };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// HarmonieCORE fan page: who is live, WHEP playback, viewer count, chat with wallet sign-in.
// Plain JS, no build step. Everything is same-origin with the backend that serves this page.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  streams: [],
  current: null,       // stream name being watched
  pc: null,
  location: null,      // WHEP session resource, DELETEd on leave
  chat: null,          // WebSocket
  token: null,         // access token after wallet sign-in
  address: null,
  retries: 0,          // reconnection attempts since the last good connection
  retryTimer: null,
  reconnects: 0,       // reconnections that played again (for tests and the curious)
};

// A fan who loses the show gets it back without doing anything: the page reconnects with
// backoff while the stream may still come back (the relay keeps a show 120 s for an artist
// who dropped), then says so and stops.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 10000];
const RETRY_FOR_MS = 150000;
const DISCONNECTED_GRACE_MS = 8000; // ICE often recovers by itself from a short blip
window.harmonie = state; // for tests and the curious

// ---- who is live ----------------------------------------------------------------------

async function announcedStreams() {
  // Titles and artist names of streams announced to the backend (same id as the relay's
  // stream when the artist publishes to /whip/<stream id>); optional.
  try {
    const response = await fetch("/live?limit=100", { cache: "no-store" });
    if (!response.ok) return {};
    const page = await response.json();
    return Object.fromEntries((page.items || []).map((s) => [s.id, s]));
  } catch (err) {
    return {};
  }
}

async function refreshStreams() {
  try {
    const [response, announced] = await Promise.all([
      fetch("/relay/live", { cache: "no-store" }),
      announcedStreams(),
    ]);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state.streams = (await response.json()).map((s) => ({ ...s, info: announced[s.stream] || null }));
  } catch (err) {
    state.streams = [];
  }
  renderStreams();
  const current = state.streams.find((s) => s.stream === state.current);
  if (state.current) {
    $("viewers").textContent = current ? viewersText(current.viewers) : "offline";
    if (current) $("stage-title").textContent = streamLabel(current);
  }
}

function viewersText(n) { return `${n} watching`; }

function streamLabel(s) {
  if (!s.info) return s.stream;
  const who = s.info.artist_name || `${s.info.artist_address.slice(0, 6)}…`;
  return `${s.info.title} — ${who}`;
}

function renderStreams() {
  const list = $("stream-list");
  list.replaceChildren();
  if (!state.streams.length) {
    const li = document.createElement("li");
    li.className = "empty";
    const first = document.createElement("strong");
    first.textContent = "Nobody is live right now.";
    const next = document.createElement("span");
    next.textContent = " Keep this page open: a show appears here by itself the moment an "
      + "artist goes live. Artists go live from HarmonieCORE Studio.";
    li.append(first, next);
    list.append(li);
    return;
  }
  for (const s of state.streams) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.stream = s.stream;
    button.textContent = streamLabel(s);
    if (s.stream === state.current) button.classList.add("active");
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = viewersText(s.viewers);
    button.append(count);
    button.addEventListener("click", () => watch(s.stream));
    li.append(button);
    list.append(li);
  }
}

// ---- WHEP playback --------------------------------------------------------------------

function gatheringComplete(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs); // send what we have: the relay does not take trickled candidates
  });
}

function scheduleRetry(stream, pc, why) {
  if (state.current !== stream || (pc && state.pc !== pc)) return; // the fan moved on
  if (!state.lostAt) state.lostAt = Date.now();
  if (Date.now() - state.lostAt > RETRY_FOR_MS) {
    setStatus(`${why} The show did not come back; pick it again to retry.`);
    return;
  }
  const delay = RETRY_DELAYS_MS[Math.min(state.retries, RETRY_DELAYS_MS.length - 1)];
  state.retries += 1;
  setStatus(`${why} Reconnecting in ${Math.round(delay / 1000)} s…`);
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(() => {
    if (state.current === stream) watch(stream, { retry: true });
  }, delay);
}

async function watch(stream, { retry = false } = {}) {
  if (!retry) { state.retries = 0; state.lostAt = null; }
  await leave({ keepChat: retry && state.current === stream });
  state.current = stream;
  $("stage").hidden = false;
  $("stage-title").textContent = stream;
  setStatus("Connecting…");
  renderStreams();
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.pc = pc;
  const media = new MediaStream();
  const video = $("player");
  video.srcObject = media;
  pc.addEventListener("track", (event) => {
    media.addTrack(event.track);
    // Live music: play as soon as possible rather than buffering for smoothness.
    if ("jitterBufferTarget" in event.receiver) event.receiver.jitterBufferTarget = 0;
    else if ("playoutDelayHint" in event.receiver) event.receiver.playoutDelayHint = 0;
  });
  let disconnectedTimer = null;
  pc.addEventListener("connectionstatechange", () => {
    const s = pc.connectionState;
    clearTimeout(disconnectedTimer);
    if (s === "connected") {
      if (state.lostAt) state.reconnects += 1;
      state.retries = 0;
      state.lostAt = null;
      setStatus("");
    } else if (s === "failed") {
      scheduleRetry(stream, pc, "The connection failed.");
    } else if (s === "disconnected") {
      setStatus("Connection interrupted…");
      disconnectedTimer = setTimeout(() => {
        if (pc.connectionState !== "connected") scheduleRetry(stream, pc, "The connection was lost.");
      }, DISCONNECTED_GRACE_MS);
    }
  });
  try {
    if ((await harmonieViewerFlow.flowOf(stream)) === "server-offer") { // Janus: janus_view.js
      state.location = await harmonieViewerFlow.answerServerOffer(pc, stream, gatheringComplete);
    } else {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      const response = await fetch(`/whep/${encodeURIComponent(stream)}`, {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        const text = (await response.text()).trim();
        throw new Error(text || `the server answered ${response.status}`);
      }
      state.location = new URL(response.headers.get("Location"), location.href).href;
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    }
  } catch (err) {
    pc.close();
    state.pc = null;
    if (retry) scheduleRetry(stream, null, `Cannot play ${stream} yet: ${err.message}.`);
    else setStatus(`Cannot play ${stream}: ${err.message}`);
    return;
  }
  startPlayback(video);
  if (!state.chat) joinChat(stream);
  refreshStreams();
}

async function leave({ keepChat = false } = {}) {
  const { pc, location: resource } = state;
  clearTimeout(state.retryTimer);
  state.pc = null;
  state.location = null;
  if (pc) pc.close();
  if (resource) {
    try { await fetch(resource, { method: "DELETE", keepalive: true }); } catch (err) { /* gone */ }
  }
  if (keepChat) return; // reconnecting to the same show: the fan stays in its chat
  if (state.chat) { state.chat.onclose = null; state.chat.close(); state.chat = null; }
  state.current = null;
  showUnmute(false);
  $("stage").hidden = true;
  $("chat-log").replaceChildren();
}

function setStatus(text) { $("status").textContent = text; }

// With sound if the browser lets the page start it; otherwise muted (browsers let a muted
// show start by itself) with a banner the fan taps to hear it.
async function startPlayback(video) {
  video.muted = false;
  try {
    await video.play();
    showUnmute(false);
    return;
  } catch (err) { /* sound needs a tap first */ }
  video.muted = true;
  try {
    await video.play();
    showUnmute(true);
  } catch (err) {
    setStatus("Press play to start (the browser blocked autoplay).");
  }
}

function showUnmute(on) { $("unmute").hidden = !on; }

$("unmute").addEventListener("click", () => {
  const video = $("player");
  video.muted = false;
  video.play().catch(() => {});
  showUnmute(false);
});
$("player").addEventListener("volumechange", () => { if (!$("player").muted) showUnmute(false); });

// ---- chat (tolerant: the page works without it) ---------------------------------------

function joinChat(stream) {
  const entry = state.streams.find((s) => s.stream === stream) || {};
  const chatId = entry.chat_stream_id || stream;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let socket;
  try {
    socket = new WebSocket(`${scheme}://${location.host}/streams/${encodeURIComponent(chatId)}/chat/ws`);
  } catch (err) {
    chatStatus("Chat is not available here.");
    return;
  }
  state.chat = socket;
  socket.onopen = () => {
    chatStatus("");
    if (state.token) socket.send(JSON.stringify({ type: "auth", token: state.token }));
  };
  socket.onmessage = (event) => {
    let data;
    try { data = JSON.parse(event.data); } catch (err) { return; }
    if (data.type === "history") {
      (data.messages || []).forEach(addChatLine);
      showSlowMode(data.slow_mode_s);
    }
    else if (data.type === "message" && data.message) addChatLine(data.message);
    else if (data.type === "deleted") removeChatLine(data.id);
    else if (data.type === "settings") showSlowMode(data.slow_mode_s);
    else if (data.type === "authed") updateChatInput();
    else if (data.type === "error") chatStatus(data.detail || "Chat error.");
  };
  socket.onclose = () => {
    if (state.chat === socket) { state.chat = null; chatStatus("Chat is not available for this stream."); }
    updateChatInput();
  };
  socket.onerror = () => {};
}

function addChatLine(message) {
  const li = document.createElement("li");
  li.dataset.id = String(message.id);
  li.dataset.sender = message.sender || ""; // tracks.js badges supporters
  const from = document.createElement("span");
  from.className = "from";
  const sender = message.sender_name || message.sender || "?";
  from.textContent = sender.length > 20 ? `${sender.slice(0, 6)}…${sender.slice(-4)}` : sender;
  const text = document.createElement("span");
  text.textContent = message.text; // never innerHTML: chat is untrusted
  li.append(from, text);
  const log = $("chat-log");
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

// A moderator deleted it: gone from every page showing the chat.
function removeChatLine(id) {
  for (const li of $("chat-log").querySelectorAll("li")) {
    if (li.dataset.id === String(id)) li.remove();
  }
}

function showSlowMode(seconds) {
  chatStatus(seconds > 0 ? `Slow mode: one message every ${seconds} s.` : "");
}

function chatStatus(text) { $("chat-status").textContent = text; }

function updateChatInput() {
  const open = state.chat && state.chat.readyState === WebSocket.OPEN && state.token;
  $("chat-text").disabled = !open;
  $("chat-send").disabled = !open;
  $("chat-text").placeholder = open ? "Say something" : "Sign in to chat";
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text || !state.chat) return;
  state.chat.send(JSON.stringify({ type: "send", text }));
  $("chat-text").value = "";
});

// ---- wallet sign-in (EIP-1193 provider + EIP-4361 message) ------------------------------

async function signIn() {
  const provider = window.ethereum;
  if (!provider) {
    chatStatus("Anyone can read the chat. To write, sign in with a wallet: open this page in "
      + "your wallet app's browser, or add a wallet extension to this browser.");
    return;
  }
  try {
    const [account] = await provider.request({ method: "eth_requestAccounts" });
    const address = toChecksumAddress(account);
    const chainId = parseInt(await provider.request({ method: "eth_chainId" }), 16);
    const nonceResponse = await fetch("/auth/nonce", { cache: "no-store" });
    if (!nonceResponse.ok) throw new Error("sign-in is not available on this server");
    const { nonce } = await nonceResponse.json();
    const message = [
      `${location.host} wants you to sign in with your Ethereum account:`,
      address,
      "",
      "Sign in to chat on HarmonieCORE.",
      "",
      `URI: ${location.origin}`,
      "Version: 1",
      `Chain ID: ${chainId}`,
      `Nonce: ${nonce}`,
      `Issued At: ${new Date().toISOString()}`,
    ].join("\n");
    const hexMessage = "0x" + Array.from(new TextEncoder().encode(message))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const signature = await provider.request({ method: "personal_sign", params: [hexMessage, account] });
    const verify = await fetch("/auth/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message, signature }),
    });
    if (!verify.ok) {
      let detail = `HTTP ${verify.status}`;
      try { detail = (await verify.json()).detail || detail; } catch (err) { /* not JSON */ }
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    const tokens = await verify.json();
    state.token = tokens.access_token;
    state.address = tokens.address;
    $("who").textContent = `${address.slice(0, 6)}…${address.slice(-4)}`;
    $("who").hidden = false;
    $("sign-in").hidden = true;
    if (state.chat && state.chat.readyState === WebSocket.OPEN) {
      state.chat.send(JSON.stringify({ type: "auth", token: state.token }));
    }
    updateChatInput();
  } catch (err) {
    chatStatus(`Sign-in failed: ${err.message || err}`);
  }
}

function toChecksumAddress(address) {
  const lower = address.toLowerCase().replace(/^0x/, "");
  const hash = window.keccak256Hex(lower);
  let out = "0x";
  for (let i = 0; i < lower.length; i++) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}

$("sign-in").addEventListener("click", signIn);
$("leave").addEventListener("click", leave);
window.addEventListener("pagehide", () => {
  if (state.location) navigator.sendBeacon && fetch(state.location, { method: "DELETE", keepalive: true });
});

refreshStreams();
setInterval(refreshStreams, 3000);
const wanted = new URLSearchParams(location.search).get("stream");
if (wanted) watch(wanted);

// HarmonieCORE fan page: an artist's tracks. Play the public rendition, buy an edition
// (EIP-1193, the marketplace's buy), subscribe with the artist's tiers, unlock the
// supporters-only tracks (the backend gives the key to an active supporter; the page
// decrypts with WebCrypto), "My collection", and a supporter badge in the chat.
// Plain JS, no build step; include after fan.js and tip.js (it uses their wallet code:
// window.harmonie for the sign-in, window.HarmonieTip for the chain and the wallet).
//
// Which artist: ?artist=0x... in the page's URL, else the watched stream's artist, else the
// one picked in the list. Contract addresses: <meta name="harmonie:marketplace">,
// <meta name="harmonie:subscriptions"> or, on a local backend, GET /chain.
// Everything shown is set with textContent: nothing a stranger typed is parsed as markup.
"use strict";

(function () {
  const BUY_SELECTOR = "d96a094a"; // keccak256("buy(uint256)")[:4]
  const SUBSCRIBE_SELECTOR = "22d4a175"; // keccak256("subscribe(address,uint256,uint256)")[:4]
  const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
  const MAX_PERIODS = 120;
  const view = { artist: null, supporters: new Set(), badgeArtist: null, noChain: false };

  // ---- pure helpers (exported for tests) ---------------------------------------------

  function word(hex) { return hex.padStart(64, "0"); }

  function encodeBuy(tokenId) {
    return "0x" + BUY_SELECTOR + word(BigInt(tokenId).toString(16));
  }

  function encodeSubscribe(artist, tier, periods) {
    if (!ADDRESS.test(artist)) throw new Error("The artist address is not valid");
    const n = Number(periods);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PERIODS) {
      throw new Error(`Subscribe for 1 to ${MAX_PERIODS} periods of 30 days`);
    }
    return "0x" + SUBSCRIBE_SELECTOR + word(artist.slice(2).toLowerCase())
      + word(BigInt(tier).toString(16)) + word(n.toString(16));
  }

  async function decryptTrack(keyBase64, sealed, nonceBytes = 12) {
    const raw = Uint8Array.from(atob(keyBase64), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
    const bytes = new Uint8Array(sealed);
    return crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, nonceBytes) }, key,
                                 bytes.slice(nonceBytes));
  }

  function short(address) { return `${address.slice(0, 6)}…${address.slice(-4)}`; }
  function money(wei) { return `${window.HarmonieTip.formatAmount(BigInt(wei))}`; }
  function day(unix) { return new Date(unix * 1000).toISOString().slice(0, 10); }

  function el(tag, props = {}, children = []) { return window.HarmonieTip.el(tag, props, children); }

  // ---- the backend and the chain -----------------------------------------------------

  async function getJson(url, options = {}) {
    const response = await fetch(url, { cache: "no-store", ...options });
    let body = null;
    try { body = await response.json(); } catch (err) { /* not JSON */ }
    if (!response.ok) {
      const detail = body && typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
      throw Object.assign(new Error(detail), { status: response.status });
    }
    return body;
  }

  function meta(name) {
    const node = document.querySelector(`meta[name="${name}"]`);
    return node ? node.getAttribute("content") : null;
  }

  let chainPromise = null;
  function marketChain() {
    if (!chainPromise) {
      chainPromise = (async () => {
        const market = meta("harmonie:marketplace");
        const subs = meta("harmonie:subscriptions");
        if (market && subs) return { marketplace: market, subscriptions: subs };
        const info = await getJson("/chain");
        const found = info.contracts || {};
        if (!found.marketplace || !found.subscriptions) throw new Error("No marketplace is deployed");
        return { marketplace: found.marketplace, subscriptions: found.subscriptions };
      })().catch((err) => { chainPromise = null; throw err; });
    }
    return chainPromise;
  }

  async function send(to, data, valueWei) {
    const provider = window.ethereum;
    if (!provider) throw new Error("No browser wallet found. Install one to buy or subscribe.");
    const [from] = await provider.request({ method: "eth_requestAccounts" });
    if (!from) throw new Error("The wallet shared no account");
    await window.HarmonieTip.ensureChain(provider, await window.HarmonieTip.config());
    return provider.request({
      method: "eth_sendTransaction",
      params: [{ from, to, value: "0x" + BigInt(valueWei).toString(16), data }],
    });
  }

  function signedIn() {
    const state = window.harmonie || {};
    return state.token && state.address ? state : null;
  }

  // ---- the view ----------------------------------------------------------------------

  function section() {
    let root = document.getElementById("tracks");
    if (root) return root;
    root = el("section", { id: "tracks", "aria-labelledby": "tracks-title" }, [
      el("div", { className: "tracks-head" }, [
        el("h2", { id: "tracks-title", text: "Tracks" }),
        el("select", { id: "tracks-artist", "aria-label": "Artist" }),
      ]),
      el("p", { id: "tracks-status", role: "status" }),
      el("h3", { text: "Listen" }), el("ul", { id: "tracks-public", className: "tracks-list" }),
      el("h3", { text: "Editions for sale" }), el("ul", { id: "tracks-sale", className: "tracks-list" }),
      el("h3", { text: "Supporters only" }), el("ul", { id: "tracks-gated", className: "tracks-list" }),
      el("h3", { text: "Subscribe" }), el("ul", { id: "tracks-tiers", className: "tracks-list" }),
      el("h3", { text: "My collection" }), el("ul", { id: "tracks-collection", className: "tracks-list" }),
    ]);
    (document.querySelector("main") || document.body).append(root);
    const link = el("link", { rel: "stylesheet", href: "tracks.css" });
    document.head.append(link);
    root.querySelector("#tracks-artist").addEventListener("change", (event) => {
      showArtist(event.target.value);
    });
    return root;
  }

  function say(text) { document.getElementById("tracks-status").textContent = text; }

  function fill(id, items, empty) {
    const list = document.getElementById(id);
    list.replaceChildren(...(items.length ? items : [el("li", { className: "empty", text: empty })]));
  }

  async function loadArtists() {
    const select = document.getElementById("tracks-artist");
    try {
      const page = await getJson("/artists?limit=100");
      const artists = Array.isArray(page) ? page : page.items || [];
      const options = artists.map((a) => el("option", { value: a.address,
                                                          text: a.display_name || short(a.address) }));
      select.replaceChildren(el("option", { value: "", text: "Choose an artist" }), ...options);
    } catch (err) { /* the list is a convenience; ?artist= and the stage still work */ }
  }

  async function showArtist(artist) {
    if (!ADDRESS.test(artist || "")) return;
    view.artist = artist;
    const select = document.getElementById("tracks-artist");
    if (![...select.options].some((o) => o.value === artist)) {
      select.append(el("option", { value: artist, text: short(artist) }));
    }
    select.value = artist;
    say("");
    await Promise.all([showPublic(artist), showSale(artist), showGated(artist), showTiers(artist),
                       showCollection()]);
  }

  async function showPublic(artist) {
    try {
      const page = await getJson(`/artists/${artist}/tracks?limit=50`);
      fill("tracks-public", (page.items || []).map((t) => el("li", { className: "track" }, [
        el("span", { className: "title", text: t.title }),
        el("audio", { controls: true, preload: "none", src: `/ipfs/${t.cid}`,
                      "data-track-id": String(t.id) }), // plays.js reports its plays
      ])), "No public tracks yet.");
    } catch (err) { fill("tracks-public", [], `Tracks unavailable: ${err.message}`); }
  }

  async function showSale(artist) {
    try {
      const listings = await getJson(`/market/listings?artist=${artist}`);
      fill("tracks-sale", listings.map((item) => {
        const buy = el("button", { type: "button", className: "buy", text: `Buy for ${money(item.price_wei)}` });
        const row = el("li", { className: "listing" }, [
          el("span", { className: "title", text: `Token #${item.token_id} from ${short(item.seller)}` }), buy,
        ]);
        row.dataset.tokenId = item.token_id;
        buy.addEventListener("click", () => buyEdition(item, row, buy));
        return row;
      }), "Nothing for sale right now.");
    } catch (err) { fill("tracks-sale", [], `Listings unavailable: ${err.message}`); }
  }

  async function buyEdition(item, row, button) {
    button.disabled = true;
    say("Confirm the purchase in your wallet…");
    try {
      const { marketplace } = await marketChain();
      const hash = await send(marketplace, encodeBuy(item.token_id), item.price_wei);
      row.dataset.txHash = hash;
      say(`Bought token #${item.token_id} — transaction ${hash}. It joins your collection once confirmed.`);
      setTimeout(() => { showSale(view.artist); showCollection(); }, 1500);
    } catch (err) {
      say(window.HarmonieTip.walletError(err));
      button.disabled = false;
    }
  }

  async function showGated(artist) {
    try {
      const tracks = await getJson(`/market/gated?artist=${artist}`);
      fill("tracks-gated", tracks.map((t) => {
        const unlock = el("button", { type: "button", className: "unlock", text: "Unlock" });
        const row = el("li", { className: "gated" }, [
          el("span", { className: "title", text: t.title }), unlock,
        ]);
        row.dataset.cid = t.cid;
        unlock.addEventListener("click", () => unlockTrack(t, row, unlock));
        return row;
      }), "No supporters-only tracks.");
    } catch (err) { fill("tracks-gated", [], `Unavailable: ${err.message}`); }
  }

  async function unlockTrack(track, row, button) {
    const who = signedIn();
    if (!who) { say("Sign in with your wallet to unlock supporters-only tracks."); return; }
    button.disabled = true;
    say(`Unlocking “${track.title}”…`);
    try {
      const grant = await getJson(`/market/gated/${track.cid}/key`, {
        method: "POST", headers: { Authorization: `Bearer ${who.token}` },
      });
      const sealed = await (await fetch(`/ipfs/${track.cid}`)).arrayBuffer();
      const plain = await decryptTrack(grant.key, sealed, grant.nonce_bytes);
      const audio = el("audio", { controls: true, src: URL.createObjectURL(new Blob([plain])) });
      row.dataset.unlocked = String(plain.byteLength);
      button.replaceWith(audio);
      say(`Unlocked “${track.title}”. Thank you for supporting!`);
    } catch (err) {
      say(err.status === 403 ? err.message : `Could not unlock: ${err.message}`);
      button.disabled = false;
    }
  }

  async function showTiers(artist) {
    try {
      const tiers = await getJson(`/market/tiers/${artist}`);
      fill("tracks-tiers", tiers.map((tier) => {
        const periods = el("input", { type: "number", min: "1", max: String(MAX_PERIODS), value: "1",
                                      className: "periods", "aria-label": `Periods of ${tier.name}` });
        const go = el("button", { type: "button", className: "subscribe", text: "Subscribe" });
        const row = el("li", { className: "tier" }, [
          el("span", { className: "title", text: `${tier.name} — ${money(tier.price_wei)} per 30 days` }),
          periods, el("span", { text: "× 30 days" }), go,
        ]);
        row.dataset.tier = String(tier.index);
        go.addEventListener("click", () => subscribe(artist, tier, periods.value, row, go));
        return row;
      }), "This artist offers no subscription yet.");
    } catch (err) { fill("tracks-tiers", [], `Tiers unavailable: ${err.message}`); }
  }

  async function subscribe(artist, tier, periodsText, row, button) {
    button.disabled = true;
    try {
      const data = encodeSubscribe(artist, tier.index, periodsText);
      say("Confirm the subscription in your wallet…");
      const { subscriptions } = await marketChain();
      const value = BigInt(tier.price_wei) * BigInt(Number(periodsText));
      const hash = await send(subscriptions, data, value);
      row.dataset.txHash = hash;
      say(`Subscribed to ${tier.name} — transaction ${hash}.`);
      setTimeout(showCollection, 1500);
    } catch (err) {
      say(window.HarmonieTip.walletError(err));
    } finally {
      button.disabled = false;
    }
  }

  async function showCollection() {
    const who = signedIn();
    if (!who) { fill("tracks-collection", [], "Sign in with your wallet to see your collection."); return; }
    try {
      const held = await getJson(`/market/holdings/${who.address}`);
      const tokens = held.tokens.map((t) => el("li", { className: "owned" }, [
        el("span", { className: "title", text: `Edition #${t.edition} of ${t.cid.slice(0, 12)}… by ${short(t.artist)}` }),
      ]));
      const now = Date.now() / 1000;
      const subs = held.subscriptions.map((s) => el("li", { className: "supporting" }, [
        el("span", { text: s.active_until > now
          ? `Supporter of ${short(s.artist)} until ${day(s.active_until)}`
          : `Supported ${short(s.artist)} until ${day(s.active_until)}` }),
      ]));
      fill("tracks-collection", [...tokens, ...subs], "Nothing here yet: buy an edition or subscribe.");
    } catch (err) { fill("tracks-collection", [], `Collection unavailable: ${err.message}`); }
  }

  // ---- the chat's supporter badge ----------------------------------------------------

  function stageArtist() {
    const stage = document.getElementById("stage");
    const artist = stage && stage.dataset.tipArtist; // tip.js sets the watched stream's artist
    return ADDRESS.test(artist || "") ? artist : null;
  }

  function badge(li) {
    const sender = li.dataset.sender || "";
    const has = li.querySelector(".supporter-badge");
    if (view.supporters.has(sender.toLowerCase())) {
      if (!has) li.querySelector(".from")?.after(el("span", { className: "supporter-badge", text: "Supporter",
                                                             title: "Subscribed to this artist" }));
    } else if (has) {
      has.remove();
    }
  }

  async function refreshBadges() {
    const artist = stageArtist() || view.artist;
    if (!artist || view.noChain) return;
    try {
      const found = await getJson(`/market/supporters/${artist}`);
      view.supporters = new Set(found.supporters.map((a) => a.toLowerCase()));
      view.badgeArtist = artist;
      document.querySelectorAll("#chat-log li").forEach(badge);
    } catch (err) {
      if (err.status === 404) view.noChain = true; // a backend without a chain: no badges
    }
  }

  function start() {
    section();
    loadArtists().then(() => {
      const wanted = new URLSearchParams(location.search).get("artist");
      if (wanted) showArtist(wanted);
    });
    const log = document.getElementById("chat-log");
    if (log) {
      new MutationObserver((changes) => {
        for (const change of changes) change.addedNodes.forEach((n) => { if (n.nodeType === 1) badge(n); });
      }).observe(log, { childList: true });
    }
    let signedAs = null;
    let ticks = 0; // the collection follows purchases and subscriptions as they are indexed
    setInterval(() => {
      const artist = stageArtist();
      if (artist && artist !== view.artist && !new URLSearchParams(location.search).get("artist")) showArtist(artist);
      const who = signedIn();
      if (who && (who.address !== signedAs || ++ticks % 3 === 0)) { signedAs = who.address; showCollection(); }
      refreshBadges();
    }, 2000);
  }

  window.HarmonieTracks = { encodeBuy, encodeSubscribe, decryptTrack, showArtist, refreshBadges, view };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

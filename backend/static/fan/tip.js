// HarmonieCORE tip button: tip an artist through the browser's wallet (EIP-1193).
// Plain JS, no build step, no dependency. Include it after the page's own scripts:
//
//   <script src="tip.js"></script>
//
// Any element with data-tip-artist="0x..." gets a "Tip" button with an amount and a message
// (elements added later too). The Tipping contract and chain come from
//   <meta name="harmonie:tipping" content="0x...">  <meta name="harmonie:chain-id" content="1116">
// or, on a local backend, from GET /chain. On the fan page, while a stream is watched, the
// stage (its #tip-slot) gets the stream's artist (from GET /live).
//
// Without a browser wallet (most phones) the panel shows the artist's address and a QR code
// of an EIP-681 payment request (ethereum:<address>@<chainId>?value=<wei>) for a wallet app
// to scan; the QR code comes from the vendored qrcode-generator (vendor/, MIT).
//
// Everything shown is set with textContent: nothing a stranger typed is parsed as markup.
"use strict";

(function () {
  const TIP_SELECTOR = "b1519611"; // keccak256("tip(address,string)")[:4]
  const MAX_MESSAGE_BYTES = 280; // String[280] in the contract
  const DECIMALS = 18;
  const KNOWN_CHAINS = {
    1116: { chainName: "Core", symbol: "CORE", rpcUrls: ["https://rpc.coredao.org"],
            blockExplorerUrls: ["https://scan.coredao.org"] },
    1114: { chainName: "Core Testnet2", symbol: "tCORE2", rpcUrls: ["https://rpc.test2.btcs.network"],
            blockExplorerUrls: ["https://scan.test2.btcs.network"] },
  };

  // ---- pure helpers (exported for tests) ---------------------------------------------

  function parseAmount(text) {
    const value = String(text).trim();
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(value)) {
      throw new Error("Enter an amount like 0.5");
    }
    const [whole, fraction = ""] = value.split(".");
    if (fraction.length > DECIMALS) throw new Error(`At most ${DECIMALS} decimals`);
    const wei = BigInt(whole || "0") * 10n ** BigInt(DECIMALS) + BigInt(fraction.padEnd(DECIMALS, "0") || "0");
    if (wei <= 0n) throw new Error("A tip must be more than zero");
    return wei;
  }

  function formatAmount(wei) {
    const base = 10n ** BigInt(DECIMALS);
    const whole = wei / base;
    const fraction = (wei % base).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
    return fraction ? `${whole}.${fraction}` : `${whole}`;
  }

  function word(hex) { return hex.padStart(64, "0"); }

  // EIP-681: a plain transfer of `wei` to `address` on `chainId`, for a wallet app.
  function paymentUri(address, chainId, wei) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error("The artist address is not valid");
    return `ethereum:${address}@${Number(chainId)}?value=${BigInt(wei).toString()}`;
  }

  function symbolOf(chainId) {
    const known = KNOWN_CHAINS[Number(chainId)];
    return known ? known.symbol : "DEV";
  }

  // The QR code as SVG built node by node (nothing parsed as markup).
  function qrSvg(text) {
    const qr = window.qrcode(0, "M");
    qr.addData(text);
    qr.make();
    const n = qr.getModuleCount();
    const margin = 4;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${n + 2 * margin} ${n + 2 * margin}`);
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "QR code of the payment request");
    const back = document.createElementNS(ns, "rect");
    back.setAttribute("width", "100%");
    back.setAttribute("height", "100%");
    back.setAttribute("fill", "#fff");
    let d = "";
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + margin} ${r + margin}h1v1h-1z`;
    }
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "#000");
    svg.append(back, path);
    svg.dataset.modules = String(n);
    return svg;
  }

  function encodeTip(artist, message) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(artist)) throw new Error("The artist address is not valid");
    const bytes = new TextEncoder().encode(message || "");
    if (bytes.length > MAX_MESSAGE_BYTES) {
      throw new Error(`The message is too long (${bytes.length} bytes; ${MAX_MESSAGE_BYTES} at most)`);
    }
    let data = "";
    for (const b of bytes) data += b.toString(16).padStart(2, "0");
    const padded = data.padEnd(Math.ceil(data.length / 64) * 64, "0");
    return "0x" + TIP_SELECTOR + word(artist.slice(2).toLowerCase()) + word("40")
      + word(bytes.length.toString(16)) + padded;
  }

  // ---- configuration -----------------------------------------------------------------

  let configPromise = null;

  function meta(name) {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el ? el.getAttribute("content") : null;
  }

  async function loadConfig() {
    const contract = meta("harmonie:tipping");
    const chainId = meta("harmonie:chain-id");
    if (contract && chainId) return { contract, chainId: Number(chainId), rpcUrl: meta("harmonie:rpc-url") };
    const response = await fetch("/chain", { cache: "no-store" });
    if (!response.ok) throw new Error("This page does not know the tipping contract");
    const info = await response.json();
    if (!info.contracts || !info.contracts.tipping) throw new Error("No tipping contract is deployed");
    return { contract: info.contracts.tipping, chainId: Number(info.chain_id),
             rpcUrl: new URL(info.rpc_path || "/rpc", location.origin).href };
  }

  function config() {
    if (!configPromise) configPromise = loadConfig().catch((err) => { configPromise = null; throw err; });
    return configPromise;
  }

  // ---- the wallet --------------------------------------------------------------------

  async function ensureChain(provider, cfg) {
    const current = parseInt(await provider.request({ method: "eth_chainId" }), 16);
    if (current === cfg.chainId) return;
    const chainIdHex = "0x" + cfg.chainId.toString(16);
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chainIdHex }] });
    } catch (err) {
      if (err && err.code === 4902) {
        const known = KNOWN_CHAINS[cfg.chainId];
        const params = known
          ? { chainId: chainIdHex, chainName: known.chainName, rpcUrls: known.rpcUrls,
              nativeCurrency: { name: known.symbol, symbol: known.symbol, decimals: 18 },
              blockExplorerUrls: known.blockExplorerUrls }
          : { chainId: chainIdHex, chainName: "HarmonieCORE local devnet", rpcUrls: [cfg.rpcUrl],
              nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } };
        await provider.request({ method: "wallet_addEthereumChain", params: [params] });
      } else {
        throw err;
      }
    }
  }

  async function sendTip({ artist, amount, message, provider }) {
    provider = provider || window.ethereum;
    if (!provider) throw new Error("No browser wallet found. Install one to tip.");
    const wei = typeof amount === "bigint" ? amount : parseAmount(amount);
    const data = encodeTip(artist, message);
    const cfg = await config();
    const [from] = await provider.request({ method: "eth_requestAccounts" });
    if (!from) throw new Error("The wallet shared no account");
    await ensureChain(provider, cfg);
    return provider.request({
      method: "eth_sendTransaction",
      params: [{ from, to: cfg.contract, value: "0x" + wei.toString(16), data }],
    });
  }

  function walletError(err) {
    if (err && err.code === 4001) return "You cancelled the tip in your wallet.";
    const text = (err && (err.message || String(err))) || "The tip failed.";
    return text.length > 200 ? text.slice(0, 199) + "…" : text;
  }

  // ---- the button --------------------------------------------------------------------

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function artistLabel(host) {
    const artist = host.dataset.tipArtist || "";
    return host.dataset.tipName || `${artist.slice(0, 6)}…${artist.slice(-4)}`;
  }

  function attach(host) {
    if (host.querySelector(":scope > .harmonie-tip")) return;
    const amount = el("input", { className: "tip-amount", inputMode: "decimal", placeholder: "Amount",
                                 value: "0.01", "aria-label": "Tip amount" });
    const unit = el("span", { className: "tip-unit", text: "" });
    const title = el("p", { className: "tip-title" });
    const message = el("input", { className: "tip-message", maxLength: 280, placeholder: "Message (optional)",
                                  "aria-label": "Tip message", autocomplete: "off" });
    const send = el("button", { type: "submit", className: "tip-send", text: "Send tip" });
    // without a browser wallet: the address and a QR code for a wallet app
    const hint = el("p", { className: "tip-hint", text: "No wallet in this browser: scan the code "
      + "with your phone's wallet app, or send the amount to this address." });
    const qrBox = el("div", { className: "tip-qr" });
    const address = el("code", { className: "tip-address" });
    const uriLink = el("a", { className: "tip-uri", text: "Open in a wallet app" });
    const noWallet = el("div", { className: "tip-nowallet", hidden: true },
                        [hint, qrBox, address, uriLink]);
    const status = el("p", { className: "tip-status", role: "status" });
    const form = el("form", { className: "tip-form", hidden: true },
                    [title, el("label", { className: "tip-amount-row" }, [amount, unit]), message, send, noWallet]);
    const open = el("button", { type: "button", className: "tip-open", text: "Tip" });
    const box = el("div", { className: "harmonie-tip" }, [open, form, status]);

    async function showPaymentRequest() {
      const artist = host.dataset.tipArtist;
      address.textContent = artist;
      qrBox.replaceChildren();
      uriLink.removeAttribute("href");
      box.dataset.paymentUri = "";
      let wei;
      try { wei = parseAmount(amount.value); } catch (err) { status.textContent = err.message; return; }
      status.textContent = "";
      try {
        const cfg = await config();
        const uri = paymentUri(artist, cfg.chainId, wei);
        qrBox.append(qrSvg(uri));
        uriLink.href = uri;
        box.dataset.paymentUri = uri;
      } catch (err) {
        status.textContent = walletError(err);
      }
    }

    async function showForm() {
      const wallet = Boolean(window.ethereum);
      title.textContent = `Tip ${artistLabel(host)}`;
      message.hidden = send.hidden = !wallet;
      noWallet.hidden = wallet;
      try { unit.textContent = symbolOf((await config()).chainId); } catch (err) { unit.textContent = ""; }
      if (!wallet) await showPaymentRequest();
    }

    amount.addEventListener("input", () => { if (!noWallet.hidden) showPaymentRequest(); });
    open.addEventListener("click", () => {
      form.hidden = !form.hidden;
      if (!form.hidden) { showForm(); amount.focus(); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const artist = host.dataset.tipArtist;
      send.disabled = true;
      status.textContent = "Confirm the tip in your wallet…";
      try {
        const wei = parseAmount(amount.value);
        const hash = await sendTip({ artist, amount: wei, message: message.value });
        status.textContent = `Sent ${formatAmount(wei)} — thank you! Transaction ${hash}`;
        box.dataset.txHash = hash;
        message.value = "";
        form.hidden = true;
      } catch (err) {
        status.textContent = walletError(err);
      } finally {
        send.disabled = false;
      }
    });
    host.append(box);
  }

  function scan(root) {
    if (root.nodeType !== 1) return;
    if (root.matches("[data-tip-artist]")) attach(root);
    root.querySelectorAll("[data-tip-artist]").forEach(attach);
  }

  // On the fan page: give the stage the watched stream's artist.
  async function followFanPage() {
    const stage = document.getElementById("stage");
    const state = window.harmonie;
    if (!stage || !state) return;
    const slot = document.getElementById("tip-slot") || stage;
    if (stage.dataset.tipStream === (state.current || undefined)) return;
    // another show (or none): the previous artist's tip panel goes
    delete stage.dataset.tipStream;
    delete slot.dataset.tipArtist;
    const old = slot.querySelector(":scope > .harmonie-tip");
    if (old) old.remove();
    if (!state.current) return;
    try {
      // fan.js already joined the relay's streams with /live (same id): use that if present
      const known = (state.streams || []).find((s) => s.stream === state.current);
      let live = known && known.info;
      if (!live) {
        const response = await fetch("/live?limit=100", { cache: "no-store" });
        if (!response.ok) return;
        const body = await response.json();
        live = (Array.isArray(body) ? body : body.items || []).find((s) => s.id === state.current);
      }
      if (live && /^0x[0-9a-fA-F]{40}$/.test(live.artist_address)) {
        stage.dataset.tipStream = state.current;
        slot.dataset.tipName = live.artist_name || "";
        slot.dataset.tipArtist = live.artist_address;
        attach(slot);
      }
    } catch (err) { /* offline: try again on the next tick */ }
  }

  function start() {
    scan(document.body);
    new MutationObserver((changes) => {
      for (const change of changes) {
        if (change.type === "attributes") scan(change.target);
        change.addedNodes.forEach(scan);
      }
    }).observe(document.body, { childList: true, subtree: true, attributes: true,
                                attributeFilter: ["data-tip-artist"] });
    setInterval(followFanPage, 2000);
  }

  window.HarmonieTip = { parseAmount, formatAmount, encodeTip, sendTip, attach, paymentUri, symbolOf, config, ensureChain, walletError, el };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

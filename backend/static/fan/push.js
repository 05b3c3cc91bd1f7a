// HarmonieCORE fan page: "Notify me when <artist> goes live" (Web Push). The button follows
// the artist, registers the service worker (sw.js shows the notification), subscribes with
// the Push API using the backend's VAPID key (GET /push/vapid-public-key) and hands the
// subscription to the backend (POST /me/push-subscriptions), signed in as the fan.
// A browser without the Push API gets no button but a sentence saying so; a browser whose
// push service cannot be reached says that, and nothing is stored.
// Which artist: the one the Tracks view shows (window.HarmonieTracks.view.artist).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  function supported() {
    return Boolean(window.isSecureContext && "serviceWorker" in navigator
                   && "PushManager" in window && "Notification" in window);
  }

  const SUBSCRIBE_TIMEOUT_MS = 20000; // a browser whose push service is out of reach may never answer

  function say(text) { $("push-status").textContent = text; }

  function withTimeout(promise, ms) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function artist() {
    const address = window.HarmonieTracks && window.HarmonieTracks.view.artist;
    if (!address) return null;
    const option = document.querySelector("#tracks-artist option:checked");
    const name = option && option.value === address ? option.textContent : "";
    return { address, name: name || `${address.slice(0, 6)}…${address.slice(-4)}` };
  }

  function refresh() {
    const button = $("push-notify");
    if (!supported()) return;
    const who = artist();
    button.hidden = !who;
    if (who) button.textContent = `Notify me when ${who.name} goes live`;
  }

  async function api(method, path, body) {
    const state = window.harmonie || {};
    const response = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch (err) { /* not JSON */ }
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return response;
  }

  async function notifyMe() {
    const who = artist();
    const state = window.harmonie || {};
    if (!who) return;
    if (!state.token) { say("Sign in first (the button at the top), then ask to be notified."); return; }
    const button = $("push-notify");
    button.disabled = true;
    try {
      say("Asking this browser for permission…");
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say("Notifications are blocked for this page: allow them in your browser's site settings.");
        return;
      }
      const { public_key: key } = await (await fetch("/push/vapid-public-key")).json();
      const registration = await navigator.serviceWorker.register("sw.js");
      await navigator.serviceWorker.ready;
      say("Asking this browser's push service…");
      let subscription;
      try {
        subscription = await withTimeout((async () => await registration.pushManager.getSubscription()
          || registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }))(),
        SUBSCRIBE_TIMEOUT_MS);
      } catch (err) {
        say(`This browser could not reach its push service, so it cannot be notified here (${err.message || err}).`);
        return;
      }
      await api("POST", "/me/push-subscriptions", subscription.toJSON());
      await api("PUT", `/artists/${who.address}/follow`);
      say(`Done: this browser will be notified when ${who.name} goes live.`);
    } catch (err) {
      say(`Could not set up notifications: ${err.message || err}`);
    } finally {
      button.disabled = false;
    }
  }

  $("push-notify").addEventListener("click", notifyMe);
  if (!supported()) {
    say("This browser cannot notify you when an artist goes live (it has no Push API here); "
      + "follow the artist to see their shows in the list above.");
  }
  refresh();
  setInterval(refresh, 1000); // the Tracks view picks its artist after loading
  window.HarmoniePush = { supported, notifyMe, keyBytes };
})();

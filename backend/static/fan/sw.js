// HarmonieCORE fan page service worker: shows the "<artist> is live" push (backend.web_push
// sends {title, body, url, tag}) and opens the show when the notification is clicked.
"use strict";

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (err) { data = { body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "HarmonieCORE", {
    body: data.body || "",
    tag: data.tag,
    data: { url: data.url },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  // Only a page of this origin: the path and query of the pushed link, never another site.
  let target = "/fan/";
  try {
    const url = new URL(event.notification.data.url, self.location.origin);
    target = url.pathname.startsWith("/fan/") ? url.pathname + url.search : target;
  } catch (err) { /* no or bad link: the fan page */ }
  event.waitUntil(self.clients.openWindow(target));
});

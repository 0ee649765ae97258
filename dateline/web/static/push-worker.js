// Dateline's push service worker, served at /sw.js and registered once per followed blog with
// the scope /{blog}/followers/ (static/follow.js). It controls no page: it only shows the
// notifications the server sends (outbound/push.py) and opens the post when one is clicked.
//
// A notification's data: {"title", "headline", "url", "icon", "tag", "ended"}.

self.addEventListener("install", () => self.skipWaiting());

function parse(event) {
  try {
    return event.data ? event.data.json() : {};
  } catch {
    return {};
  }
}

self.addEventListener("push", (event) => {
  const data = parse(event);
  const shown = self.registration.showNotification(data.title || "Live coverage", {
    body: data.headline || "",
    icon: data.icon || "/favicon.ico",
    tag: data.tag,
    data: { url: data.url || "/" },
  });
  // The last notice of ended coverage: the server has forgotten this browser, so it does too.
  const done = data.ended
    ? shown
        .then(() => self.registration.pushManager.getSubscription())
        .then((subscription) => subscription && subscription.unsubscribe())
        .then(() => self.registration.unregister())
    : shown;
  event.waitUntil(done);
});

async function openPage(href) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => w.url === href && "focus" in w);
  return open ? open.focus() : self.clients.openWindow(href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  // Only this site's own pages, whatever a payload says.
  if (url.origin !== self.location.origin) return;
  event.waitUntil(openPage(url.href));
});

// The browser renewed the subscription: tell the blog's followers list (the scope without its
// trailing slash) about the new one, and forget the old.
self.addEventListener("pushsubscriptionchange", (event) => {
  const followers = self.registration.scope.replace(/\/$/, "");
  const send = (method, body) =>
    fetch(followers, {
      method,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
  event.waitUntil(
    (async () => {
      if (event.oldSubscription) {
        await send("DELETE", { endpoint: event.oldSubscription.endpoint }).catch(() => {});
      }
      const renewed =
        event.newSubscription ||
        (event.oldSubscription &&
          (await self.registration.pushManager.subscribe(event.oldSubscription.options)));
      if (renewed) await send("POST", renewed.toJSON());
    })(),
  );
});

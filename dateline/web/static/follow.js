// Dateline "Follow this story": web push notifications for one live blog.
// Plain ES module, no build step. The button stays hidden unless this browser has the Push API,
// so readers without it (or without JavaScript) never meet a button that cannot work.
//
// Each blog gets its own service worker registration, scoped to `/{blog}/followers/` (a path no
// page lives under), so a browser has one subscription per blog and unfollowing one blog leaves
// the others alone. The worker itself is /sw.js.

const box = document.getElementById("follow");
const supported =
  box &&
  window.isSecureContext &&
  "serviceWorker" in navigator &&
  "PushManager" in window &&
  "Notification" in window;

const MESSAGES = {
  following: "You're following this story: we'll send a notification when there's major news.",
  unfollowed: "You're no longer following this story.",
  blocked:
    "Notifications are blocked for this site. Allow them in your browser's settings to follow this story.",
  failed: "This browser could not sign up for notifications just now. Please try again later.",
  ended: "This live coverage has ended; there is nothing left to follow.",
};

function base64urlToBytes(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// pushManager.subscribe needs an active worker; a new registration is still installing.
function activated(registration) {
  const worker = registration.installing || registration.waiting || registration.active;
  if (!worker || worker.state === "activated") return Promise.resolve();
  return new Promise((resolve) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve();
    });
  });
}

function send(method, url, body) {
  return fetch(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit", // following takes no cookie
  });
}

function setUp() {
  const button = box.querySelector(".follow__button");
  const status = box.querySelector(".follow__status");
  const followers = box.dataset.followers;
  const scope = `${followers}/`;
  let following = false;

  const say = (key) => {
    status.textContent = MESSAGES[key] || "";
    status.dataset.state = key;
  };
  const show = (now) => {
    following = now;
    button.textContent = now ? "Unfollow this story" : "Follow this story";
    box.dataset.following = String(now);
  };

  async function currentSubscription() {
    const registration = await navigator.serviceWorker.getRegistration(scope);
    if (!registration || !registration.scope.endsWith(scope)) return null;
    return registration.pushManager.getSubscription();
  }

  async function follow() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say("blocked");
      return;
    }
    let subscription = null;
    try {
      box.dataset.step = "registering"; // how far it got, for whoever looks (tests)
      const key = await (await fetch(box.dataset.key)).json();
      const registration = await navigator.serviceWorker.register("/sw.js", { scope });
      await activated(registration);
      box.dataset.step = "subscribing";
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: base64urlToBytes(key.public_key),
      });
      box.dataset.step = "sending";
      const answer = await send("POST", followers, subscription.toJSON());
      if (answer.status === 409) {
        await subscription.unsubscribe();
        say("ended");
        return;
      }
      if (!answer.ok) throw new Error(`the site answered ${answer.status}`);
      show(true);
      say("following");
    } catch {
      // No push service reachable, a refusal, or a network error: one polite line for the
      // reader, and no half-made subscription left behind.
      if (subscription) subscription.unsubscribe().catch(() => {});
      say("failed");
    }
  }

  async function unfollow() {
    try {
      const subscription = await currentSubscription();
      if (subscription) {
        // The server forgets it first; a 404 means it had already (coverage ended).
        await send("DELETE", followers, { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      show(false);
      say("unfollowed");
    } catch {
      say("failed");
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await (following ? unfollow() : follow());
    } finally {
      button.disabled = false;
    }
  });

  box.hidden = false;
  currentSubscription()
    .then((subscription) => show(Boolean(subscription)))
    .catch(() => show(false));
}

if (supported) setUp();

// Dateline live page: applies the blog's event stream to the server-rendered page.
// Plain ES module, no build step. The page works without it; this only keeps it current.

import "./poll.js"; // readers' polls: votes sent with fetch, and this browser's votes remembered
import "./embeds.js"; // embeds: the provider's frame only when the reader asks
import "./follow.js"; // "Follow this story": web push, where the browser has it

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const MAX_POSTS = 200; // older posts beyond this collapse into "Load more"

const stream = document.getElementById("stream");
if (stream) start(stream);

function start(stream) {
  const state = {
    seq: Number(stream.dataset.seq || 0),
    newestFirst: stream.dataset.sort !== "oldest",
    pending: [], // new posts held back while the reader is scrolled down
  };
  const status = document.getElementById("live-status");
  const announcer = document.getElementById("live-announcer");
  const button = document.getElementById("new-posts");
  const count = document.querySelector(".blog-header__count");
  const updated = document.querySelector(".blog-header__updated time");

  button?.addEventListener("click", () => {
    showPending(state, stream, button);
    const first = stream.querySelector("article");
    first?.scrollIntoView({ block: "start" });
    first?.querySelector("a")?.focus({ preventScroll: true });
  });

  const onEvent = (event) => {
    if (event.seq <= state.seq) return; // already applied (a replay after reconnect)
    state.seq = event.seq;
    stream.dataset.seq = String(event.seq);
    apply(event, state, { stream, button, announcer, count });
    // A poll's new counts are not news: the header's "updated" time stays.
    if (updated && event.at && event.type !== "poll.results") {
      updated.dateTime = event.at;
      updated.textContent = event.at_ap ?? updated.textContent;
    }
  };
  connect(stream, state, status, onEvent);
  loadMore(stream);
  refreshTimes();
  setInterval(refreshTimes, MINUTE);
}

// The stream, kept open for as long as the page is. EventSource reconnects by itself after a
// dropped connection, but gives up for good when a reconnect is answered with anything but 200
// (a proxy's 502 while the only node restarts, a 503 while the database is away). Then the page
// reopens it itself, after a back-off with jitter (1 s doubling to 30 s, times 0.5-1.5; the
// server's Retry-After when it gave one), first catching up through the delta, always from the
// last seq it applied, so nothing is missed and nothing shown twice.
const MAX_BACKOFF = 30_000;

function connect(stream, state, status, onEvent) {
  let attempt = 0;
  let ended = false;
  const delta = stream.dataset.delta;

  const open = () => {
    const source = new EventSource(`${stream.dataset.live}?after=${state.seq}`);
    source.addEventListener("open", () => {
      attempt = 0;
      setStatus(status, "");
    });
    source.addEventListener("error", () => {
      setStatus(status, "Reconnecting…");
      if (source.readyState === EventSource.CLOSED && !ended) later(source);
    });
    // Coverage has ended: the server says so once and closes; stop listening, keep the page.
    source.addEventListener("end", () => {
      ended = true;
      source.close();
      setStatus(status, "");
    });
    source.addEventListener("message", (message) => onEvent(JSON.parse(message.data)));
  };

  const later = (source, wait) => {
    source?.close();
    const backoff = Math.min(MAX_BACKOFF, 1000 * 2 ** attempt) * (0.5 + Math.random());
    attempt += 1;
    setTimeout(retry, wait ?? backoff);
  };

  const retry = async () => {
    if (!delta) return open();
    try {
      const response = await fetch(`${delta}?after=${state.seq}`, { cache: "no-store" });
      if (!response.ok) {
        const after = Number(response.headers.get("Retry-After"));
        return later(null, after > 0 ? after * 1000 * (0.75 + Math.random() / 2) : undefined);
      }
      const { events } = await response.json();
      for (const event of events) onEvent(event);
    } catch {
      return later(null); // the network, or a proxy's error page
    }
    open();
  };

  open();
}

function apply(event, state, ui) {
  const existing = event.post_id ? document.getElementById(`post-${event.post_id}`) : null;
  if (event.post) updateTopBoxes(event);
  // A page filtered by a tag (?tag=) shows only the posts that carry it, live too.
  const tag = ui.stream.dataset.tag;
  const wanted = !tag || (event.post?.tags ?? []).includes(tag);
  switch (event.type) {
    case "post.published": {
      const article = fromHTML(event.html);
      if (!article || existing) return;
      adjustCount(ui.count, +1);
      if (!wanted) return;
      ui.stream.querySelector(".stream__empty")?.remove();
      if (!state.newestFirst) {
        if (!document.querySelector(".load-more")) ui.stream.append(article);
        return;
      }
      if (atTop(ui.stream)) {
        ui.stream.prepend(article);
        trim(ui.stream);
      } else {
        state.pending.unshift(article);
        const n = state.pending.length;
        ui.button.hidden = false;
        ui.button.textContent = n === 1 ? "1 new post" : `${n} new posts`;
      }
      announce(ui.announcer, state.pending.length || 1, event.post?.headline);
      refreshTimes();
      return;
    }
    case "post.updated":
    case "post.pinned":
    case "post.unpinned":
    case "post.key_event":
    case "post.key_event_cleared": {
      const article = fromHTML(event.html);
      if (existing && !wanted) existing.remove(); // its tag was taken off
      else if (existing && article) {
        keepLoadedEmbeds(existing, article);
        existing.replaceWith(article);
      }
      const held = state.pending.findIndex((a) => a.id === `post-${event.post_id}`);
      if (held >= 0 && article) state.pending[held] = article;
      refreshTimes();
      return;
    }
    case "post.deleted": {
      if (existing) existing.remove();
      state.pending = state.pending.filter((a) => a.id !== `post-${event.post_id}`);
      adjustCount(ui.count, -1);
      return;
    }
    case "poll.results": {
      showPoll(event, state);
      return;
    }
    case "blog.updated":
    case "blog.ended":
    case "blog.score": {
      const title = document.querySelector(".blog-header__title a");
      if (title && event.blog) title.textContent = event.blog.title;
      if (event.summary_html !== undefined) showSummary(event.summary_html);
      if (event.score_html !== undefined) showScore(event.score_html, ui.announcer);
      if (event.type === "blog.ended") {
        document.querySelector(".live-badge")?.remove();
        showEnded();
      } else if (event.blog?.status === "live") {
        document.querySelector(".blog-header__ended")?.remove();
      }
      return;
    }
  }
}

// An edit must not stop a video the reader is watching: a frame already loaded moves into the
// new version of the post when the embed is still there.
function keepLoadedEmbeds(from, to) {
  for (const loaded of from.querySelectorAll("figure.embed--loaded")) {
    const twin = [...to.querySelectorAll("figure.embed")].find((f) => f.dataset.frame === loaded.dataset.frame);
    if (twin) twin.replaceWith(loaded);
  }
}

// A poll's results (counted at most once a second), in place in every copy of its post on the
// page and in posts held back; static/poll.js marks the ones this browser voted in again.
function showPoll(event, state) {
  if (!event.poll || !event.html) return;
  const selector = `.poll[data-poll-id="${CSS.escape(event.poll.id)}"]`;
  const held = state.pending.flatMap((a) => [...a.querySelectorAll(selector)]);
  for (const old of [...document.querySelectorAll(selector), ...held]) {
    const fresh = fromHTML(event.html);
    if (!fresh) return;
    fresh.id = old.id; // a pinned copy's ids carry its slot
    fresh.querySelector(".poll__question").id = `${old.id}-q`;
    fresh.setAttribute("aria-labelledby", `${old.id}-q`);
    old.replaceWith(fresh);
  }
}

// "What we covered", as the newsroom has just written it (sanitised HTML from the server).
function showSummary(html) {
  let section = document.querySelector(".summary");
  if (!html) {
    section?.remove();
    return;
  }
  if (!section) {
    section = document.createElement("section");
    section.className = "summary";
    section.setAttribute("aria-labelledby", "summary-title");
    document.querySelector(".blog-header")?.after(section);
  }
  section.innerHTML = `<h2 id="summary-title">What we covered</h2>${html}`;
}

// The score box, as the server rendered it (_score.html), in place of the old one; a new score
// or status is announced politely (a header edit that leaves the score alone says nothing).
function showScore(html, announcer) {
  const slot = document.getElementById("score-slot");
  if (!slot) return;
  const before = slot.querySelector(".score")?.dataset.text ?? "";
  slot.innerHTML = html;
  const after = slot.querySelector(".score")?.dataset.text ?? "";
  if (announcer && after && after !== before) announcer.textContent = `Score: ${after}`;
}

// "Load more" appends the next page in place: the stream stays live above it. (Only the next
// page's link: the embed's "Read all coverage" in the same place opens the blog outside.)
function loadMore(stream) {
  document.addEventListener("click", async (event) => {
    const link = event.target.closest('.load-more a[rel~="next"]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey)
      return;
    event.preventDefault();
    link.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(link.href);
      if (!response.ok) throw new Error(String(response.status));
      const next = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const article of next.querySelectorAll("#stream article")) {
        if (!document.getElementById(article.id)) stream.append(document.adoptNode(article));
      }
      const more = next.querySelector(".load-more a");
      if (more) link.href = more.getAttribute("href");
      else link.closest(".load-more").remove();
      refreshTimes();
    } catch {
      window.location.href = link.href; // the page without script does the same
    } finally {
      link.removeAttribute("aria-busy");
    }
  });
}

function showEnded() {
  if (document.querySelector(".blog-header__ended")) return;
  const note = document.createElement("p");
  note.className = "blog-header__ended";
  note.setAttribute("role", "status");
  note.textContent = "This live coverage has ended.";
  document.querySelector(".blog-header")?.append(note);
}

// The pinned slot and the key events box follow each post's flags.
function updateTopBoxes(event) {
  const post = event.post;
  const visible = post.status === "published";
  const slot = document.getElementById("pinned");
  const pinnedCopy = document.getElementById(`pinned-post-${post.id}`);
  if (slot) {
    if (visible && post.pinned && event.html) {
      const copy = fromHTML(event.html);
      copy.id = `pinned-post-${post.id}`;
      if (pinnedCopy) pinnedCopy.replaceWith(copy);
      else slot.prepend(copy);
    } else {
      pinnedCopy?.remove();
    }
    slot.hidden = !slot.querySelector("article");
  }
  const box = document.getElementById("key-events");
  const list = document.getElementById("key-events-list");
  if (!box || !list) return;
  const item = list.querySelector(`li[data-post-id="${post.id}"]`);
  if (visible && post.key_event) {
    const li = document.createElement("li");
    li.dataset.postId = post.id;
    li.dataset.published = post.published_at;
    const a = li.appendChild(document.createElement("a"));
    a.href = post.url;
    const time = a.appendChild(document.createElement("time"));
    time.dateTime = post.published_at;
    const article = fromHTML(event.html);
    time.textContent = article?.querySelector(".post__time time")?.textContent ?? "";
    a.append(` ${post.headline || "Update"}`);
    if (item) item.replaceWith(li);
    else {
      const later = [...list.children].find((x) => x.dataset.published < post.published_at);
      list.insertBefore(li, later ?? null);
    }
  } else {
    item?.remove();
  }
  box.hidden = !list.children.length;
}

function showPending(state, stream, button) {
  for (const article of state.pending.reverse()) stream.prepend(article);
  state.pending = [];
  button.hidden = true;
  trim(stream);
  refreshTimes();
}

// The reader is "at the top" while the stream's start is on screen: new posts can appear
// above what they are reading without moving it.
function atTop(stream) {
  return stream.getBoundingClientRect().top >= 0;
}

// Past its limit the page drops its oldest posts. "Load more" then continues from the oldest
// post still shown (so the dropped ones come back with it, none skipped), on the page's own
// filter and order (?tag=, ?sort=).
function trim(stream) {
  const posts = stream.querySelectorAll("article");
  const most = Number(stream.dataset.max || MAX_POSTS); // the embed shows as many as it was asked
  if (posts.length <= most) return;
  for (const post of [...posts].slice(most)) post.remove();
  let link = document.querySelector('.load-more a[rel~="next"]');
  if (!link) {
    if (document.querySelector(".load-more")) return; // the embed's "Read all coverage"
    const more = document.createElement("p");
    more.className = "load-more";
    more.innerHTML = `<a class="button" rel="next">Load more</a>`;
    stream.after(more);
    link = more.querySelector("a");
  }
  const query = new URLSearchParams(window.location.search);
  const oldestFirst = query.get("sort") === "oldest";
  query.set("cursor", cursorOf(stream.querySelector("article:last-of-type"), oldestFirst));
  link.href = `${window.location.pathname}?${query}`;
}

function cursorOf(article, oldestFirst) {
  // The server's cursor is base64url of "published_at|id", ordered by the exact time; the page
  // shows times to the second. A cursor at the edge of that second takes in every post of it:
  // those already shown are skipped when the next page arrives (loadMore), none is missed.
  const second = article.dataset.published.replace("Z", "");
  const edge = oldestFirst ? "000000" : "999999";
  const raw = `${second}.${edge}+00:00|${article.dataset.postId}`;
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function adjustCount(el, delta) {
  if (!el) return;
  const n = Math.max(0, Number(el.dataset.postCount || 0) + delta);
  el.dataset.postCount = String(n);
  el.textContent = n === 1 ? "1 Post" : `${n} Posts`;
}

// What a screen reader says: the new post's headline, and how many are waiting.
function announce(el, n, headline) {
  if (!el) return;
  const what = headline ? `New post: ${headline}` : "New post";
  el.textContent = n <= 1 ? what : `${what}. ${n} new posts in all`;
}

function setStatus(el, text) {
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
}

function fromHTML(html) {
  if (!html) return null;
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

// Times: "14 min ago" for the last day, with the newsroom's absolute time kept in the title.
function refreshTimes() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".post__time time")) {
    if (!el.dataset.absolute) el.dataset.absolute = el.textContent;
    const age = now - new Date(el.dateTime).getTime();
    el.title = el.dataset.absolute;
    el.textContent = age >= 0 && age < DAY ? relative(age) : el.dataset.absolute;
  }
}

function relative(age) {
  const minutes = Math.floor(age / MINUTE);
  if (minutes < 1) return "Just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  return hours === 1 ? "1 hr ago" : `${hours} hrs ago`;
}

// Dateline newsroom console: the compose box (live preview, autosaved drafts, images, Ctrl/Cmd+Enter)
// and the actions on posts. Everything is written through the JSON API with the session cookie and
// the page's CSRF token; the server decides what each role may do.

import { apClock, wallClock, zonedToISO } from "./zoned.js"; // times in the blog's zone

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const alertBox = document.getElementById("console-alert");

function showError(message) {
  if (!alertBox) return;
  alertBox.textContent = message;
  alertBox.hidden = false;
  alertBox.scrollIntoView({ block: "nearest" });
}

function clearError() {
  if (alertBox) alertBox.hidden = true;
}

async function api(method, path, body, { form = false } = {}) {
  const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
  let payload;
  if (form) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = new Error(data?.error?.message ?? `the server answered ${response.status}`);
    error.status = response.status;
    error.current = data?.error?.current; // a stale edit: the post as it now is
    throw error;
  }
  return data;
}

// -- the compose box ------------------------------------------------------------------------

const names = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);

function setupCompose(form) {
  const $ = (id) => document.getElementById(id);
  const slug = form.dataset.slug;
  const postId = form.dataset.postId ?? null;
  const timeZone = form.dataset.timezone || "UTC";
  const zoneNames = JSON.parse(form.dataset.zoneNames || "{}");
  const postsPath = `/api/v1/blogs/${encodeURIComponent(slug)}/posts`;
  const storageKey = postId ? `dateline:edit:${slug}:${postId}` : `dateline:compose:${slug}`;
  const status = $("c-status");
  const preview = $("c-preview");
  const body = $("c-body");
  const mediaList = $("c-media");
  const fileInput = $("c-file");
  const thumb = $("c-thumb");
  const publishAt = $("c-publish-at");
  let draftId = null;
  let draftRevision = null; // the autosaved draft's revision as this box last saw it
  let pendingFile = null;
  let sending = false;

  // Key events notify followers by default: ticking Key event ticks Notify followers, until the
  // editor decides for themselves.
  const notify = $("c-notify");
  if (notify && $("c-key-event")) {
    let decided = false;
    notify.addEventListener("change", () => {
      decided = true;
    });
    $("c-key-event").addEventListener("change", (event) => {
      if (!decided) notify.checked = event.target.checked;
    });
  }
  let saving = Promise.resolve(); // the autosave in flight, if any; it never rejects
  let previewTimer = null;
  let saveTimer = null;
  let savedSnapshot = "";

  const textFields = ["c-headline", "c-body", "c-people", "c-location", "c-contributors",
    "c-alt", "c-caption", "c-credit", "c-correction", "c-poll-question", "c-poll-options",
    "c-poll-closes"];

  function media() {
    return [...mediaList.querySelectorAll("li[data-media]")].map((li) => {
      const m = JSON.parse(li.dataset.media);
      return { url: m.url, alt: m.alt, caption: m.caption, credit: m.credit };
    });
  }

  function addMedia(m) {
    const li = document.createElement("li");
    li.dataset.media = JSON.stringify(m);
    li.append(`${m.caption} `);
    const credit = document.createElement("span");
    credit.className = "muted";
    credit.textContent = `(${m.credit})`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.dataset.removeMedia = "";
    remove.textContent = "Remove";
    li.append(credit, " ", remove);
    mediaList.append(li);
  }

  // `sending`: the post is being sent (then an ambiguous poll closing time is asked about);
  // else an autosave.
  function content(sending = false) {
    const post = {
      headline: $("c-headline").value.trim(),
      body: body.value,
      byline: {
        people: names($("c-people").value).map((name) => ({ name })),
        location: $("c-location").value.trim() || null,
      },
      contributors: names($("c-contributors").value),
      media: media(),
    };
    if ($("c-key-event")) post.key_event = $("c-key-event").checked;
    if ($("c-pinned")) post.pinned = $("c-pinned").checked;
    if ($("c-notify")) post.notify = $("c-notify").checked;
    if (!post.contributors.length) post.contributors = null;
    const poll = pollSent(sending);
    if (poll) post.poll = poll;
    return post;
  }

  // The poll fields, as the API's `poll` object (the server checks the rules and says what is
  // missing): a new poll, or closing the post's poll now.
  function pollSent(sending) {
    if ($("c-poll-close")?.checked) return { close: true };
    const question = $("c-poll-question")?.value.trim() ?? "";
    const options = ($("c-poll-options")?.value ?? "").split("\n").map((o) => o.trim()).filter(Boolean);
    if (!question && !options.length) return null;
    const poll = { question, options };
    const closes = $("c-poll-closes")?.value;
    if (closes) {
      const which = $("c-poll-closes-which");
      try {
        poll.closes_at = zonedToISO(closes, timeZone, which ? Number(which.value) : null);
      } catch (err) {
        // A time the clocks pass twice: the editor picks which, as for scheduling; until then
        // an autosaved draft goes without the poll. A time they skip is sent without one, and
        // the server says a poll needs it.
        if (err.choices && sending) {
          askWhich(err.choices, $("c-poll-closes"), "c-poll-closes-which");
          throw err;
        }
        if (err.choices) return null;
      }
    }
    return poll;
  }

  const hasContent = (p) => Boolean(p.headline || p.body.trim() || p.media.length);

  // Kept in the browser on every keystroke, so closing the tab loses nothing.
  function remember() {
    const fields = Object.fromEntries(textFields.filter((id) => $(id)).map((id) => [id, $(id).value]));
    localStorage.setItem(storageKey, JSON.stringify({ fields, draftId, media: media() }));
  }

  function restore() {
    let saved;
    try {
      saved = JSON.parse(localStorage.getItem(storageKey) ?? "null");
    } catch {
      saved = null;
    }
    if (!saved) return;
    for (const [id, value] of Object.entries(saved.fields ?? {})) if ($(id)) $(id).value = value;
    if (!postId) {
      draftId = saved.draftId ?? null;
      mediaList.replaceChildren();
      for (const m of saved.media ?? []) addMedia(m);
    }
    status.textContent = "Restored your unsaved text";
    if (draftId) {
      const id = draftId;
      saving = saving.then(() => letGoIfMovedOn(id));
    }
    // The tab may have closed before the text reached the server: save it there too.
    clearTimeout(saveTimer);
    saveTimer = setTimeout(autosave, 2000);
  }

  // The draft this box was saving may since have been published, scheduled, submitted or deleted
  // from the lists. Its text has gone on without the box, which must not write over that post.
  async function letGoIfMovedOn(id) {
    let movedOn;
    try {
      const draft = await api("GET", `${postsPath}/${id}`);
      movedOn = draft.status !== "draft";
      if (!movedOn && draftId === id) draftRevision = draft.revision;
    } catch (err) {
      movedOn = err.status === 404;
    }
    if (!movedOn || draftId !== id) return;
    clearTimeout(saveTimer);
    forget();
    draftId = null;
    for (const field of textFields) if ($(field)) $(field).value = "";
    mediaList.replaceChildren();
    preview.replaceChildren();
    status.textContent = "Your draft has left the drafts list; this box is free for a new post";
  }

  function forget() {
    localStorage.removeItem(storageKey);
  }

  async function renderPreview() {
    try {
      const { html } = await api("POST", "/newsroom/preview", { body: body.value });
      preview.innerHTML = html; // rendered and sanitised by the server, as for readers
    } catch (err) {
      status.textContent = `Preview failed: ${err.message}`;
    }
  }

  // New posts are also saved on the server as drafts, two seconds after the last keystroke.
  // One save at a time, and `send` waits for it: a click on Publish while a draft is on its way
  // publishes that draft (rather than being dropped, or making a second post).
  function autosave() {
    saving = saving.then(saveDraft);
    return saving;
  }

  async function saveDraft() {
    if (postId || sending) return;
    const post = content();
    const snapshot = JSON.stringify(post);
    if (!hasContent(post) || snapshot === savedSnapshot) return;
    try {
      if (draftId) {
        // From the revision this box saved: someone else's change to the draft is not undone.
        const base = { base_revision: draftRevision ?? undefined };
        draftRevision = (await api("PATCH", `${postsPath}/${draftId}`, { ...post, ...base })).revision;
      } else {
        const created = await api("POST", postsPath, { ...post, status: "draft" });
        [draftId, draftRevision] = [created.id, created.revision];
      }
      savedSnapshot = snapshot;
      remember();
      status.textContent = `Draft saved ${apClock(new Date(), timeZone, zoneNames)}`;
    } catch (err) {
      status.textContent = `Draft not saved: ${err.message}`;
    }
  }

  async function uploadPending() {
    if (!pendingFile) return;
    const alt = $("c-alt").value.trim();
    const caption = $("c-caption").value.trim();
    const credit = $("c-credit").value.trim();
    if (!alt || !caption || !credit) {
      throw new Error("an image needs alt text, a caption and a credit");
    }
    const data = new FormData();
    data.append("file", pendingFile);
    data.append("alt", alt);
    data.append("caption", caption);
    data.append("credit", credit);
    status.textContent = "Uploading the image…";
    const uploaded = await api("POST", "/api/v1/media", data, { form: true });
    addMedia({ url: uploaded.url, alt, caption, credit });
    pendingFile = null;
    fileInput.value = "";
    thumb.hidden = true;
    for (const id of ["c-alt", "c-caption", "c-credit"]) $(id).value = "";
  }

  async function send(kind) {
    if (sending) return;
    clearError();
    sending = true;
    clearTimeout(saveTimer);
    try {
      await saving;
      await uploadPending();
      const post = content(true);
      if (kind === "scheduled") {
        if (!publishAt.value) throw new Error("pick the time the post goes out");
        const which = $("c-publish-which");
        try {
          post.publish_at = zonedToISO(publishAt.value, timeZone, which ? Number(which.value) : null);
        } catch (err) {
          if (err.choices) askWhich(err.choices, publishAt, "c-publish-which");
          throw err;
        }
      }
      if (postId) {
        // Always sent, so emptying the field takes the note away (null clears it).
        const correction = $("c-correction");
        if (correction) post.correction = correction.value.trim() || null;
        if (kind !== "save") post.status = kind;
        // The revision this edit started from: if someone changed the post meanwhile, the
        // server refuses (409) and sends the current version to merge with.
        post.base_revision = Number(form.dataset.revision);
        try {
          await api("PATCH", `${postsPath}/${postId}`, post);
        } catch (err) {
          if (err.current) showConflict(err.current, post);
          throw err;
        }
      } else if (draftId) {
        await api("PATCH", `${postsPath}/${draftId}`,
          { ...post, status: kind, base_revision: draftRevision ?? undefined });
      } else {
        await api("POST", postsPath, { ...post, status: kind });
      }
      forget();
      status.textContent = { published: "Published", submitted: "Sent for review",
        scheduled: "Scheduled", draft: "Draft saved", save: "Saved" }[kind] ?? "Saved";
      window.location.reload();
    } catch (err) {
      showError(err.message);
      status.textContent = "";
    } finally {
      sending = false;
    }
  }

  // Two instants for one wall-clock time (the clocks go back): the editor picks one, in a
  // select (`id`) after the time's field; changing the time takes the question away.
  function askWhich(choices, field, id) {
    let which = $(id);
    if (!which) {
      which = document.createElement("select");
      which.id = id;
      which.setAttribute("aria-label", "Which of the two");
      field.after(which);
      field.addEventListener("input", () => which.remove(), { once: true });
    }
    const label = new Intl.DateTimeFormat("en-US", {
      timeZone, hour: "numeric", minute: "2-digit", timeZoneName: "short",
    });
    which.replaceChildren(...choices.map((at, i) => new Option(
      `${i ? "The second" : "The first"}: ${label.format(new Date(at))}`, String(i))));
  }

  // Someone changed the post while this editor had it open: show both versions side by side;
  // the editor keeps theirs (sent again on top of the current revision), takes the other, or
  // merges by hand in the box and saves.
  function showConflict(current, mine) {
    $("c-conflict")?.remove();
    const panel = document.createElement("section");
    panel.id = "c-conflict";
    panel.className = "panel conflict";
    panel.setAttribute("role", "alert");
    const h = document.createElement("h2");
    h.textContent = `Someone changed this post while you were editing (now revision ${current.revision})`;
    const columns = document.createElement("div");
    columns.className = "conflict__columns";
    for (const [title, version] of [["Their version (saved)", current], ["Your version", mine]]) {
      const column = document.createElement("div");
      const heading = document.createElement("h3");
      heading.textContent = title;
      const headline = document.createElement("p");
      headline.className = "conflict__headline";
      headline.textContent = version.headline || "(no headline)";
      const text = document.createElement("pre");
      text.className = "conflict__body";
      text.textContent = version.body;
      column.append(heading, headline, text);
      columns.append(column);
    }
    const keep = document.createElement("button");
    keep.type = "button";
    keep.className = "primary";
    keep.textContent = "Keep my version";
    keep.addEventListener("click", () => {
      form.dataset.revision = String(current.revision);
      panel.remove();
      send("save");
    });
    const take = document.createElement("button");
    take.type = "button";
    take.textContent = "Take their version";
    take.addEventListener("click", () => {
      forget();
      window.location.reload();
    });
    const merge = document.createElement("p");
    merge.className = "muted";
    merge.textContent =
      "Or merge by hand: edit the box above and Save changes (it now saves on top of their version).";
    panel.append(h, columns, keep, " ", take, merge);
    form.dataset.revision = String(current.revision); // a save from the box merges onto theirs
    form.before(panel);
  }

  function pick(file) {
    if (!file) return;
    pendingFile = file;
    thumb.src = URL.createObjectURL(file);
    thumb.alt = `Selected: ${file.name}`;
    thumb.hidden = false;
    status.textContent = `${file.name} will be uploaded when you publish`;
  }

  form.addEventListener("input", (event) => {
    remember();
    if (event.target === body) {
      clearTimeout(previewTimer);
      previewTimer = setTimeout(renderPreview, 150);
    }
    clearTimeout(saveTimer);
    saveTimer = setTimeout(autosave, 2000);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const primary = form.querySelector("button.primary[data-submit]");
    send(event.submitter?.dataset.submit ?? primary.dataset.submit);
  });
  form.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-submit]");
    if (button && button.type === "button") send(button.dataset.submit);
    const remove = event.target.closest("button[data-remove-media]");
    if (remove) {
      remove.closest("li").remove();
      remember();
    }
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send(form.querySelector("button.primary[data-submit]").dataset.submit);
    }
  });
  fileInput.addEventListener("change", () => pick(fileInput.files[0]));
  const drop = $("c-drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("drop--over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("drop--over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("drop--over");
    pick(event.dataTransfer.files[0]);
  });
  if (publishAt) {
    // A scheduled post keeps its time; a new one is offered an hour from now.
    const at = form.dataset.publishAt ? new Date(form.dataset.publishAt) : null;
    publishAt.value = wallClock(at ?? new Date(Date.now() + 3600_000), timeZone);
  }
  restore();
  if (body.value && !preview.innerHTML.trim()) renderPreview();
  if (postId) watchPresence(`/newsroom/blogs/${encodeURIComponent(slug)}/posts/${postId}/presence`);
}

// "Ana is editing this post": who else has it open, renewed every 15 s. It locks nobody out;
// the revision check on saving keeps their changes from being undone.
function watchPresence(path) {
  const note = document.createElement("p");
  note.id = "c-presence";
  note.className = "notice";
  note.setAttribute("role", "status");
  note.hidden = true;
  document.getElementById("compose").before(note);
  const beat = async () => {
    try {
      const { editing } = await api("POST", path, {});
      note.hidden = !editing.length;
      const who = editing.length > 1
        ? `${editing.slice(0, -1).join(", ")} and ${editing.at(-1)} are`
        : `${editing[0]} is`;
      note.textContent = editing.length ? `${who} editing this post` : "";
    } catch {
      // the next beat tries again
    }
  };
  beat();
  setInterval(beat, 15_000);
  window.addEventListener("pagehide", () => {
    fetch(path, {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ leaving: true }),
    });
  });
}

// -- actions on listed posts ----------------------------------------------------------------

function setupActions(slug) {
  const postPath = (id) => `/api/v1/blogs/${encodeURIComponent(slug)}/posts/${id}`;
  const run = async (work, then = () => window.location.reload()) => {
    clearError();
    try {
      await work();
      then();
    } catch (err) {
      showError(err.message);
    }
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.dataset.postId ?? button.closest("[data-post-id]")?.dataset.postId;
    const value = button.dataset.value === "true";
    const patches = {
      pin: { pinned: value },
      "key-event": { key_event: value },
      publish: { status: "published" },
      unschedule: { status: "draft" },
      submit: { status: "submitted" },
      // From the revision the History was shown at: a change made meanwhile is not undone.
      restore: { restore_revision: Number(button.dataset.revision),
        base_revision: Number(button.dataset.baseRevision) },
    };
    const patch = patches[button.dataset.action];
    if (patch) run(() => api("PATCH", postPath(id), patch));
  });
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    const id = form.closest("[data-post-id]").dataset.postId;
    const data = Object.fromEntries(new FormData(form));
    if (form.dataset.action === "delete") {
      const body = data.reason ? { reason: data.reason } : undefined;
      const onEditor = window.location.pathname.includes("/posts/");
      run(
        () => api("DELETE", postPath(id), body),
        onEditor
          ? () => { window.location.href = `/newsroom/blogs/${encodeURIComponent(slug)}`; }
          : undefined,
      );
    } else if (form.dataset.action === "send-back") {
      run(() => api("PATCH", postPath(id), { status: "draft", review_note: data.review_note }));
    }
  });
}

const compose = document.getElementById("compose");
if (compose) {
  setupCompose(compose);
  setupActions(compose.dataset.slug);
}

// -- the score box ----------------------------------------------------------------------------

// One click per goal: the +1/−1 and status forms go through the JSON API, and the answer (the
// score as the server counted it, other editors' clicks included) is shown in place. Answers to
// quick clicks may arrive out of order: only one newer than what is shown (by seq) is shown.
function setupScore(list) {
  const path = `/api/v1/blogs/${encodeURIComponent(list.dataset.slug)}/score`;
  let shownSeq = 0;
  const show = (blog) => {
    if (blog.last_seq <= shownSeq) return;
    shownSeq = blog.last_seq;
    (blog.score?.sides ?? []).forEach((side, i) => {
      const value = list.querySelector(`[data-side="${i}"] [data-score-value]`);
      if (value) value.textContent = side.score.toLocaleString("en-US");
    });
    const status = document.querySelector("form[data-score-status] input[name=status]");
    if (status && document.activeElement !== status) status.value = blog.score?.status ?? "";
  };
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-score-count], form[data-score-status]");
    if (!form) return;
    event.preventDefault();
    clearError();
    const data = Object.fromEntries(new FormData(form));
    const body =
      "scoreCount" in form.dataset
        ? { side: Number(data.side), by: Number(data.by) }
        : { status: data.status };
    try {
      show(await api("POST", path, body));
    } catch (err) {
      showError(err.message);
    }
  });
}

const scoreList = document.querySelector(".score-editor__sides");
if (scoreList) setupScore(scoreList);

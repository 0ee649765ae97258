// Dateline readers' polls: sends the vote form with fetch and shows the results at once.
// Plain ES module, no build step. Without it the form still works (POST, then back to the post).
// The browser's vote is remembered here only to hide the form again on the next visit; the
// server's cookie is what counts it once.

const KEY = "dateline-poll-votes";

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "{}");
  } catch {
    return {}; // storage disabled or full: the form shows, and the server says "already voted"
  }
}

function remember(pollId, option) {
  try {
    const votes = remembered();
    votes[pollId] = option;
    localStorage.setItem(KEY, JSON.stringify(votes));
  } catch {
    // nothing to do: see remembered()
  }
}

// Every copy of a poll on the page (a pinned post is shown twice).
function copies(pollId) {
  return document.querySelectorAll(`.poll[data-poll-id="${CSS.escape(pollId)}"]`);
}

function votesText(n) {
  return n === 1 ? "1 vote" : `${n.toLocaleString("en-US")} votes`;
}

// The results as the server just counted them, into the bars already on the page.
function showResults(section, poll) {
  const total = section.querySelector(".poll__total");
  if (total) total.textContent = votesText(poll.total_votes);
  section.querySelectorAll(".poll__bar").forEach((bar, i) => {
    const option = poll.options[i];
    if (!option) return;
    bar.querySelector("meter").value = option.percent;
    bar.querySelector(".poll__figure").textContent =
      `${Math.round(option.percent)}% · ${votesText(option.votes)}`;
  });
}

function markVoted(section, option, message) {
  if (section.classList.contains("poll--voted")) return;
  section.classList.add("poll--voted");
  const choice = section.querySelectorAll(".poll__choice")[option];
  const note = document.createElement("p");
  note.className = "poll__you";
  note.textContent =
    message ?? (choice ? `You voted for “${choice.textContent.trim()}”.` : "You have voted.");
  section.querySelector(".poll__results")?.before(note);
}

function say(form, text) {
  const message = form.querySelector(".poll__message");
  if (message) message.textContent = text;
}

async function vote(form) {
  const section = form.closest(".poll");
  const pollId = section.dataset.pollId;
  const button = form.querySelector("button");
  const chosen = form.querySelector("input[name=option]:checked");
  if (!chosen) return say(form, "Choose one of the options, then vote.");
  button.disabled = true;
  say(form, "Sending your vote…");
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      const option = Number(chosen.value);
      remember(pollId, option);
      for (const copy of copies(pollId)) {
        showResults(copy, data.poll);
        markVoted(copy, option);
      }
      return;
    }
    const text = data.error?.message ?? "Your vote could not be sent; try again.";
    if (response.status === 409 && /already voted/.test(text)) {
      remember(pollId, -1);
      for (const copy of copies(pollId)) markVoted(copy, -1, "You have already voted in this poll.");
      return;
    }
    say(form, text.charAt(0).toUpperCase() + text.slice(1));
  } catch {
    say(form, "Your vote could not be sent (no connection?); try again.");
  } finally {
    button.disabled = false;
  }
}

// Polls already voted in from this browser show their results without the form, including
// those the live stream puts on the page later (new posts, fresh results).
function restore(root) {
  const votes = remembered();
  const sections = root.matches?.(".poll") ? [root] : root.querySelectorAll?.(".poll") ?? [];
  for (const section of sections) {
    const option = votes[section.dataset.pollId];
    if (option === undefined) continue;
    markVoted(section, option, option < 0 ? "You have already voted in this poll." : undefined);
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest?.(".poll__form");
  if (!form) return;
  event.preventDefault();
  vote(form);
});
restore(document);
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) if (node.nodeType === 1) restore(node);
  }
}).observe(document.body, { childList: true, subtree: true });

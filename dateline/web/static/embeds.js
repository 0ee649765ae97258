// Dateline embeds: a card of another site's post or video (made by the server from a stored
// snapshot) becomes the provider's frame only when the reader asks, or when the reader chose
// "Always load" for that provider (remembered in this browser only). Until then the page asks
// nothing of the provider. Plain ES module, no build step; without it the card is a link.

const ALWAYS = "dateline.embeds.always";

function always() {
  try {
    return new Set(JSON.parse(localStorage.getItem(ALWAYS) || "[]"));
  } catch {
    return new Set(); // storage blocked or damaged: ask each time
  }
}

function remember(provider, yes) {
  const chosen = always();
  if (yes) chosen.add(provider);
  else chosen.delete(provider);
  try {
    localStorage.setItem(ALWAYS, JSON.stringify([...chosen]));
  } catch {
    // private mode: the choice lasts for this page only
  }
}

function load(figure) {
  const src = figure.dataset.frame;
  if (!src || figure.querySelector("iframe")) return;
  const frame = document.createElement("iframe");
  frame.src = src;
  frame.title = `${figure.dataset.provider} embed`;
  frame.loading = "lazy";
  frame.referrerPolicy = "strict-origin";
  // The provider's page runs in its own origin, with no way to navigate this page.
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups allow-presentation allow-popups-to-escape-sandbox");
  frame.setAttribute("allow", "encrypted-media; picture-in-picture; fullscreen");
  frame.allowFullscreen = true;
  frame.className = "embed__frame";
  const ratio = Number(figure.dataset.ratio);
  if (ratio > 0) frame.style.aspectRatio = `${1 / ratio}`;
  figure.classList.add("embed--loaded");
  figure.querySelector(".embed__consent")?.setAttribute("hidden", "");
  figure.querySelector(".embed__thumb")?.setAttribute("hidden", "");
  figure.prepend(frame);
}

function prepare(root) {
  const chosen = always();
  for (const figure of root.querySelectorAll("figure.embed[data-frame]")) {
    const consent = figure.querySelector(".embed__consent");
    if (consent && !figure.classList.contains("embed--loaded")) consent.hidden = false;
    if (chosen.has(figure.dataset.provider)) load(figure);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.(".embed__load");
  if (!button) return;
  const figure = button.closest("figure.embed");
  const box = figure.querySelector(".embed__always");
  if (box?.checked) {
    remember(figure.dataset.provider, true);
    prepare(document); // every card of that provider on the page
  }
  load(figure);
});

// A frame the page's Content-Security-Policy does not allow (a provider that arrived live, after
// the page was served): the card stays, with a way to the post's own page, which allows it.
document.addEventListener("securitypolicyviolation", (event) => {
  if (event.effectiveDirective !== "frame-src") return;
  for (const frame of document.querySelectorAll("iframe.embed__frame")) {
    if (!event.blockedURI || !frame.src.startsWith(event.blockedURI)) continue;
    const figure = frame.closest("figure.embed");
    frame.remove();
    figure.classList.remove("embed--loaded");
    figure.querySelector(".embed__thumb")?.removeAttribute("hidden");
    const permalink = figure.closest("article")?.querySelector("a.post__time");
    const consent = figure.querySelector(".embed__consent");
    if (consent && permalink) {
      consent.hidden = false;
      consent.replaceChildren(Object.assign(document.createElement("a"), {
        href: permalink.href,
        textContent: `Open this post to load the ${figure.dataset.provider} embed`,
      }));
    }
  }
});

prepare(document);
// Posts that arrive live (or are replaced by an edit) get the same treatment.
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.nodeType === Node.ELEMENT_NODE) prepare(node.matches?.("figure.embed") ? node.parentNode : node);
    }
  }
}).observe(document.body, { childList: true, subtree: true });

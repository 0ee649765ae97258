// Inside the embed iframe: tell the host page our height whenever it changes, so the frame
// grows with new posts instead of scrolling inside itself.
const send = () =>
  parent.postMessage(
    { dateline: "resize", height: document.documentElement.scrollHeight, href: location.href },
    "*",
  );
new ResizeObserver(send).observe(document.documentElement);
send();

// Links open outside the frame, in a new tab, never inside the host page's iframe.
document.addEventListener(
  "click",
  (event) => {
    const link = event.target.closest("a[href]");
    if (!link) return;
    link.target = "_blank";
    link.rel = "noopener";
  },
  true,
);

// Inside the embed iframe: tell the host page our height whenever it changes, so the frame
// grows with new posts instead of scrolling inside itself.
const send = () =>
  parent.postMessage(
    { dateline: "resize", height: document.documentElement.scrollHeight, href: location.href },
    "*",
  );
new ResizeObserver(send).observe(document.documentElement);
send();

// Inside the embed iframe: tell the host page our height whenever it changes, so the frame
// grows with new posts instead of scrolling inside itself.
const send = () =>
  parent.postMessage(
    { dateline: "resize", height: document.documentElement.scrollHeight, href: location.href },
    "*",
  );
new ResizeObserver(send).observe(document.documentElement);
send();

// Links open outside the frame in a new tab: the page's <base target="_blank"> does that, script
// or not. Here each clicked link also says noopener (browsers that predate its being implied),
// keeping the rel it has: a post's links are "noopener noreferrer nofollow".
document.addEventListener(
  "click",
  (event) => {
    event.target.closest("a[href]")?.relList.add("noopener");
  },
  true,
);

// On the host page: size every Dateline embed iframe to its content.
//   <iframe src="https://live.example.org/my-blog/embed" data-dateline-embed
//           style="width:100%;border:0" title="Live coverage"></iframe>
//   <script async src="https://live.example.org/static/embed.js"></script>
window.addEventListener("message", (event) => {
  const data = event.data;
  if (!data || data.dateline !== "resize" || typeof data.height !== "number") return;
  for (const frame of document.querySelectorAll("iframe[data-dateline-embed]")) {
    if (frame.contentWindow === event.source) frame.style.height = `${Math.ceil(data.height)}px`;
  }
});

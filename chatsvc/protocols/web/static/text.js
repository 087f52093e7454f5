// Pure functions about text for the page (no DOM): mentions, links, times.
// Nothing here builds markup: links come back as {text, url} pieces and the
// page makes the elements, with textContent and an http(s) href only.

const NAME_CHARS = "A-Za-z0-9_\\-\\[\\]\\\\^{}|`";

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Whether `text` names `name` as a word (any case): "alice: hi", "hi @alice!"
// but not "malice".
export function mentions(text, name) {
  if (!name || !text) return false;
  const word = new RegExp("(^|[^" + NAME_CHARS + "])" + escape(name) + "($|[^" + NAME_CHARS + "])", "i");
  return word.test(text);
}

// `text` cut into pieces, each {text} or {text, url}: only http and https
// addresses become links (no other scheme, whatever it looks like), and
// trailing punctuation stays out of them ("see https://x.example/.").
export function segments(text) {
  const pieces = [];
  const pattern = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    let candidate = match[0].replace(/[.,;:!?)\]}]+$/, "");
    const url = safeUrl(candidate);
    if (!url) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index) });
    pieces.push({ text: candidate, url });
    last = match.index + candidate.length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last) });
  return pieces;
}

function safeUrl(candidate) {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// "14:27" for today, "Dec 3, 14:27" for an older (history) message.
export function clock(time, now = new Date()) {
  const when = time ? new Date(time) : now;
  const hours = { hour: "2-digit", minute: "2-digit" };
  if (when.toDateString() === now.toDateString()) return when.toLocaleTimeString([], hours);
  return when.toLocaleString([], { month: "short", day: "numeric", ...hours });
}

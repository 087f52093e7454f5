// What the user types, as requests of the JSON protocol (docs/user/web.rst),
// and the composer's helpers: recalling sent lines, completing names. Pure:
// no DOM, no socket (tests/test_web_page.py runs it in Node).

export const HELP = "commands: /join #room [key], /part [#room] [reason], /msg name text, " +
  "/me text, /topic [text], /nick name, /who [#room], /login name password, /logout, " +
  "/register #room, /unregister #room; //text sends a line starting with /";

function isRoom(name) {
  return name.startsWith("#") || name.startsWith("&");
}

// One line typed while `here` (a room or a person's name, or null) is shown:
// {send: request} to send, {open: name} to show a private conversation,
// {help: text} to show, or {error: text} when it cannot be done.
export function interpret(line, here) {
  if (line.startsWith("//")) line = line.slice(1);
  else if (line.startsWith("/")) return command(line, here);
  if (!line.trim()) return { error: "nothing to send" };
  if (!here) return { error: "join a room first: /join #chat" };
  return { send: isRoom(here) ? { type: "say", room: here, text: line } : { type: "whisper", to: here, text: line } };
}

function command(line, here) {
  const match = /^\/(\S*)\s*(.*)$/s.exec(line);
  const word = match[1].toLowerCase();
  const arg = match[2].trim();
  const [first = "", ...more] = arg.split(/\s+/).filter(Boolean);
  const rest = arg.slice(first.length).trim();
  const room = here && isRoom(here) ? here : null;
  switch (word) {
    case "join":
      if (!first) return { error: "usage: /join #room [key]" };
      return { send: { type: "join", room: first, key: more[0] ?? null } };
    case "part":
      if (first && isRoom(first)) return { send: { type: "part", room: first, reason: rest || null } };
      if (!room) return { error: "usage: /part #room [reason]" };
      return { send: { type: "part", room, reason: arg || null } };
    case "msg": case "query":
      if (!first) return { error: "usage: /msg name text" };
      if (!rest) return { open: first };
      return { send: { type: "whisper", to: first, text: rest } };
    case "me":
      if (!arg) return { error: "usage: /me text" };
      if (!room) return { error: "/me works in rooms (the server has no private actions)" };
      return { send: { type: "me", room, text: arg } };
    case "topic":
      if (!room) return { error: "/topic works in rooms" };
      return { send: { type: "topic", room, text: arg || null } };
    case "nick":
      if (!first) return { error: "usage: /nick newname" };
      return { send: { type: "register", name: first } };
    case "who":
      if (!first && !room) return { error: "usage: /who #room" };
      return { send: { type: "who", room: first || room }, who: true };
    case "login":
      // The password goes to the server alone: never shown, never recalled.
      if (!first || more.length !== 1) return { error: "usage: /login name password" };
      return { send: { type: "login", name: first, password: more[0] }, login: true };
    case "logout":
      return { send: { type: "logout" } };
    case "register":  // a room (docs/user/rooms.rst); accounts are made elsewhere
      if (!first || !isRoom(first) || more.length) return { error: "usage: /register #room" };
      return { send: { type: "register-room", room: first } };
    case "unregister":
      if (!first || !isRoom(first) || more.length) return { error: "usage: /unregister #room" };
      return { send: { type: "unregister-room", room: first } };
    case "help":
      return { help: HELP };
    default:
      return { error: "unknown command: /" + word + " (/help lists them)" };
  }
}

// Whether a line typed holds a password (/login): kept out of the ↑ recall.
export function secret(line) {
  return /^\/login(\s|$)/i.test(line.trimStart());
}

// The lines of what was typed (Shift+Enter makes several): each is sent as
// its own message, the server having no multi-line message; blank lines are
// left out. More than `most` lines is refused as a whole ({error}), so a
// paste cannot run into the flood control halfway through.
export function splitLines(text, most) {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length > most) {
    return { error: lines.length + " lines at once: send at most " + most +
      " (each line is a message of its own)" };
  }
  return { lines };
}

// The lines sent, for ↑ and ↓ in the composer, like a shell's history.
export class Recall {
  constructor(limit = 100) { this.limit = limit; this.items = []; this.position = 0; this.draft = ""; }

  push(text) {
    if (text && this.items[this.items.length - 1] !== text) this.items.push(text);
    if (this.items.length > this.limit) this.items.shift();
    this.position = this.items.length;
    this.draft = "";
  }

  // The earlier line (null when there is none); `current` is kept as the draft.
  up(current) {
    if (this.position === 0) return null;
    if (this.position === this.items.length) this.draft = current;
    this.position--;
    return this.items[this.position];
  }

  // The later line, then the draft back (null when already there).
  down() {
    if (this.position >= this.items.length) return null;
    this.position++;
    return this.position === this.items.length ? this.draft : this.items[this.position];
  }
}

// Tab completion of names. `value` and `caret` are the composer's; `names`
// the people who can be named here; `last` what the previous Tab returned
// (pressing Tab again cycles through the matches). Returns
// {value, caret, matches, index, start} or null when nothing matches (then
// Tab keeps its usual job: moving the focus).
export function complete(value, caret, names, self, last = null) {
  if (last && last.value === value && last.caret === caret) {
    const index = (last.index + 1) % last.matches.length;
    return fill(last.original, last.start, last.end, last.matches, index);
  }
  const before = value.slice(0, caret);
  const start = before.search(/\S*$/);
  const prefix = before.slice(start).replace(/^@/, "").toLowerCase();
  if (!prefix) return null;
  const matches = [...new Set(names)]
    .filter((name) => name.toLowerCase().startsWith(prefix) && name !== self)
    .sort((a, b) => a.localeCompare(b));
  if (!matches.length) return null;
  return fill(value, start, caret, matches, 0);
}

function fill(original, start, end, matches, index) {
  const word = (original.slice(start, end).startsWith("@") ? "@" : "") + matches[index];
  const suffix = start === 0 ? ": " : " ";
  const head = original.slice(0, start) + word + suffix;
  const value = head + original.slice(end);
  return { value, caret: head.length, matches, index, start, end, original };
}

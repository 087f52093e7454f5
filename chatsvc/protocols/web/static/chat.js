// The chatsvc page: a client of the JSON protocol on /ws (docs/user/web.rst).
// Everything anyone typed is put on the page with textContent (links: an
// http(s) href, checked by text.js), never as HTML.

import { Recall, complete, interpret, secret, splitLines } from "./compose.js";
import { clock, mentions, segments } from "./text.js";

const $ = (id) => document.getElementById(id);
const KEPT = 500;  // messages kept per conversation

const state = {
  ws: null, name: null, wanted: null, target: null, targets: new Map(), limits: {},
  backoff: 1000, timer: null, nextRef: 1, whoRefs: new Set(), notify: false,
  needsPassword: false, password: null,
  // Accounts: whether the server keeps them; the account logged in to; the
  // account and password to log in again after a reconnect (memory only);
  // the login request waiting for its answer ({ref, name, password}).
  accounts: false, account: null, accountName: null, accountPassword: null, login: null,
  recall: new Recall(), completion: null, server: "chat", away: new Map(),
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setState(text, kind) {
  const node = $("state");
  node.textContent = text;
  node.className = "state " + kind;
}

function send(body) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    body.ref = state.nextRef++;
    state.ws.send(JSON.stringify(body));
    return body.ref;
  }
  show(state.target, { kind: "error", text: "not connected: try again in a moment" });
  return null;
}

// -- conversations: rooms (#name) and people --------------------------------

function key(name) { return name.toLowerCase(); }
function isRoom(name) { return name.startsWith("#") || name.startsWith("&"); }
function isShown(name) { return Boolean(state.target) && key(state.target) === key(name); }

function conversation(name) {
  let c = state.targets.get(key(name));
  if (!c) {
    c = { name, messages: [], ids: new Set(), members: new Set(), operators: new Set(),
          voiced: new Set(), topic: "", unread: 0, mentioned: false, room: isRoom(name) };
    state.targets.set(key(name), c);
    drawTargets();
  }
  return c;
}

function drop(name) {
  state.targets.delete(key(name));
  if (isShown(name)) {
    const first = state.targets.values().next().value;
    state.target = first ? first.name : null;
  }
  drawTargets();
  drawConversation();
}

// A message is {kind, from, text, time, id, mine, mention, history}; kind is
// "said", "action", "event", "notice" or "error".
function show(name, line) {
  if (!name) name = state.target;
  if (!name) return;
  const c = conversation(name);
  if (!line.time) line.time = new Date().toISOString();  // the page's own lines
  if (line.id) {
    if (c.ids.has(line.id)) return;  // history again after a reconnect
    c.ids.add(line.id);
  }
  let at = c.messages.length;
  if (line.history && line.time) {  // history goes before what came live after it
    while (at > 0 && c.messages[at - 1].time && c.messages[at - 1].time > line.time) at--;
  }
  c.messages.splice(at, 0, line);
  if (c.messages.length > KEPT) {
    const gone = c.messages.shift();
    if (gone.id) c.ids.delete(gone.id);
  }
  const counts = (line.kind === "said" || line.kind === "action") && !line.mine && !line.history;
  if (isShown(name)) {
    if (at === c.messages.length - 1) appendLine(line); else drawConversation();
  }
  if (counts && (!isShown(name) || document.hidden)) {
    c.unread++;
    if (line.mention || !c.room) c.mentioned = true;
    drawTargets();
  }
  if (counts && (line.mention || !c.room)) alertUser(c, line);
  if (!state.target) select(name);
}

function announce(text) {
  $("announce").textContent = text;
}

function appendLine(line) {
  const list = $("messages");
  // Follow new messages, unless the user scrolled up to read older ones.
  const following = !(list.scrollHeight - list.scrollTop - list.clientHeight > 48);
  list.append(lineItem(line));
  if (following) list.scrollTop = list.scrollHeight;
}

function lineItem(line) {
  const classes = [line.kind];
  if (line.mine) classes.push("mine");
  if (line.mention) classes.push("mention");
  if (line.history) classes.push("history");
  if (line.delayed) classes.push("delayed");
  const item = el("li", classes.join(" "));
  const stamp = el("time", "", clock(line.time));
  if (line.time) stamp.setAttribute("datetime", line.time);
  item.append(stamp);
  if (line.history) item.setAttribute("title", "from the room's history");
  if (line.delayed) {
    item.setAttribute("title", "kept while you were away");
    item.append(el("span", "kept", "kept while you were away"));
  }
  if (line.kind === "action") item.append(el("span", "from", "* " + line.from));
  else if (line.from) item.append(el("span", "from", line.from));
  const body = el("span", "text");
  for (const piece of segments(line.text)) {
    if (piece.url) {
      const link = el("a", "", piece.text);
      link.href = piece.url;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      body.append(link);
    } else {
      body.append(piece.text);
    }
  }
  item.append(body);
  return item;
}

function targetItem(c) {
  const button = el("button", c.mentioned ? "mentioned" : "", c.name);
  button.type = "button";
  button.setAttribute("aria-current", String(isShown(c.name)));
  if (c.unread) {
    const badge = el("span", "unread", String(c.unread));
    badge.append(el("span", "sr-only", " unread"));
    button.append(badge);
  }
  button.addEventListener("click", () => select(c.name));
  const item = el("li");
  item.append(button);
  return item;
}

function drawTargets() {
  const rooms = [], people = [];
  let unread = 0;
  for (const c of state.targets.values()) {
    (c.room ? rooms : people).push(targetItem(c));
    unread += c.unread;
  }
  $("rooms").replaceChildren(...rooms);
  $("people").replaceChildren(...people);
  $("people-title").hidden = people.length === 0;
  document.title = (unread ? "(" + unread + ") " : "") + state.server;
}

function drawMembers() {
  const list = $("members");
  const c = state.target && state.targets.get(key(state.target));
  const names = c && c.room ? [...c.members] : [];
  const rank = (name) => (c.operators.has(key(name)) ? 0 : c.voiced.has(key(name)) ? 1 : 2);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  $("members-count").textContent = c && c.room ? String(names.length) : "";
  const none = !c || !c.room;  // a private conversation has no member list
  $("members-panel").hidden = none;
  $("members-toggle").hidden = none;
  list.replaceChildren(...names.map((name) => {
    const status = rank(name) === 0 ? "operator" : rank(name) === 1 ? "voiced" : "";
    const away = state.away.get(key(name));
    const button = el("button", "", (status === "operator" ? "@" : status === "voiced" ? "+" : "") + name);
    button.type = "button";
    button.setAttribute("aria-label", name + (status ? ", " + (status === "voiced" ? "voice" : status) : "")
      + (name === state.name ? ", you" : "") + (away ? ", away: " + away : ""));
    if (away) button.setAttribute("title", "away: " + away);
    if (name !== state.name) button.addEventListener("click", () => select(name));
    const item = el("li", [status, name === state.name ? "mine" : "", away ? "away" : ""].filter(Boolean).join(" "));
    item.append(button);
    return item;
  }));
}

function drawConversation() {
  const c = state.target && state.targets.get(key(state.target));
  $("title").textContent = c ? c.name : "";
  $("topic").textContent = c && c.topic ? c.topic : "";
  const list = $("messages");
  list.setAttribute("aria-busy", "true");  // a redraw is not news to announce
  list.replaceChildren(...(c ? c.messages.map(lineItem) : []));
  list.setAttribute("aria-busy", "false");
  list.scrollTop = list.scrollHeight;
  drawMembers();
}

function select(name) {
  const c = conversation(name);
  state.target = c.name;
  c.unread = 0;
  c.mentioned = false;
  drawTargets();
  drawConversation();
  $("text").focus();
}

function step(by) {
  const names = [...state.targets.values()].sort((a, b) => Number(b.room) - Number(a.room)).map((c) => c.name);
  if (!names.length) return;
  const at = names.findIndex((name) => isShown(name));
  select(names[(at + by + names.length) % names.length]);
}

// -- notifications: only once asked for, only while the tab is hidden -------

function alertUser(c, line) {
  if (isShown(c.name) && !document.hidden) return;  // the log reads it out
  announce((c.room ? line.from + " in " + c.name : line.from + ", privately") + ": " + line.text);
  if (!document.hidden || !state.notify || typeof Notification === "undefined" || Notification.permission !== "granted") return;
  const note = new Notification(c.room ? line.from + " in " + c.name : line.from, { body: line.text, tag: key(c.name) });
  note.onclick = () => { globalThis.focus(); select(c.name); note.close(); };
}

function drawNotify() {
  const button = $("notify");
  if (typeof Notification === "undefined") { button.hidden = true; return; }
  if (Notification.permission === "denied") {
    button.textContent = "Notifications blocked";
    button.disabled = true;
    return;
  }
  button.textContent = state.notify ? "Notifications on" : "Notify me";
  button.setAttribute("aria-pressed", String(state.notify));
}

async function toggleNotify() {
  if (state.notify) { state.notify = false; drawNotify(); return; }
  const answer = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  state.notify = answer === "granted";
  drawNotify();
}

// -- what the server sends ---------------------------------------------------

function event(text, time) { return { kind: "event", text, time }; }

// A topic change, join or part from the room's history: a line of its past,
// in its place; the room's present (its topic, its members) stays as it is.
function past(m, text) {
  show(m.room, { kind: "event", text, time: m.time, id: m.id, history: true });
}

function said(m, where) {
  const mine = Boolean(m.self) || (state.name !== null && m.from === state.name && Boolean(m.history));
  show(where, {
    kind: m.action ? "action" : m.notice ? "notice" : "said", from: m.from, text: m.text,
    time: m.time, id: m.id, mine, history: Boolean(m.history), delayed: Boolean(m.delayed),
    mention: !mine && mentions(m.text, state.name),
  });
}

// "you are alice (logged in)": the name, and the account when logged in.
function drawMe() {
  let text = state.name === null ? "" : "you are " + state.name;
  if (state.name !== null && state.account) {
    text += key(state.account) === key(state.name) ? " (logged in)" : " (logged in as " + state.account + ")";
  }
  $("me").textContent = text;
}

function note(text) {
  $("account-note").textContent = text || "";
  $("account-note").hidden = !text;
}

function logIn(name, password) {
  const ref = send({ type: "login", name, password });
  if (ref !== null) state.login = { ref, name, password };
}

function forget(c, name) {
  c.members.delete(name);
  c.operators.delete(key(name));
  c.voiced.delete(key(name));
}

const handlers = {
  welcome(m) {
    state.server = m.server;
    state.limits = m.limits || {};
    $("server").textContent = m.server;
    drawTargets();
    state.needsPassword = Boolean(m.password);
    $("password").hidden = $("password-label").hidden = !state.needsPassword;
    $("password").required = state.needsPassword;
    state.accounts = Boolean(m.accounts);
    for (const id of ["account-password", "account-password-label", "account-hint"]) $(id).hidden = !state.accounts;
    if (state.wanted && (!state.needsPassword || state.password)) enter();
  },
  ok() {},
  registered(m) {
    const first = state.name === null;
    if (!first && m.name !== state.name) show(state.target, event("you are now " + m.name));
    state.name = m.name;
    state.wanted = m.name;
    note("");  // a name-registered warning was for the name before
    drawMe();
    $("login").hidden = true;
    $("chat").hidden = false;
    if (first) {
      for (const c of state.targets.values()) if (c.room) send({ type: "join", room: c.name });
    }
    drawMembers();
    $("text").focus();
  },
  "logged-in"(m) {
    const login = state.login;
    state.login = null;
    state.account = m.account;
    if (login) { state.accountName = m.account; state.accountPassword = login.password; }
    note("");
    drawMe();
    show(state.target, event("logged in as " + m.account));
  },
  "logged-out"(m) {
    state.account = state.accountName = state.accountPassword = null;
    drawMe();
    show(state.target, event("logged out of " + m.account));
  },
  "room-registered"(m) { show(state.target, event("registered " + m.room)); },
  "room-unregistered"(m) { show(state.target, event(m.room + " is no longer registered")); },
  message(m) { said(m, m.room); },
  private(m) { said(m, m.self || (state.name !== null && key(m.from) === key(state.name)) ? m.to : m.from); },
  joined(m) {
    if (m.history) { past(m, m.name + " joined"); return; }
    const fresh = !state.targets.has(key(m.room));
    const c = conversation(m.room);
    if (m.self) {
      c.topic = m.topic || "";
      c.members.add(state.name);
      show(m.room, event("you joined " + m.room));
      send({ type: "who", room: m.room });
      if (fresh) select(m.room);  // rejoining after a reconnect: what is shown stays
    } else {
      c.members.add(m.name);
      if (m.away) state.away.set(key(m.name), m.away); else state.away.delete(key(m.name));
      show(m.room, event(m.name + " joined", m.time));
      if (isShown(m.room)) drawMembers();
    }
  },
  left(m) {
    if (m.history) { past(m, m.name + (m.quit ? " quit" : " left") + (m.reason ? " (" + m.reason + ")" : "")); return; }
    if (m.self) { drop(m.room); return; }
    const rooms = m.room ? [conversation(m.room)] : [...state.targets.values()].filter((c) => c.members.has(m.name));
    for (const c of rooms) {
      forget(c, m.name);
      show(c.name, event(m.name + (m.room ? " left" : " quit") + (m.reason ? " (" + m.reason + ")" : ""), m.time));
    }
    drawMembers();
  },
  kicked(m) {
    if (m.self) {
      show(m.room, event("you were kicked by " + m.by + (m.reason ? " (" + m.reason + ")" : ""), m.time));
      conversation(m.room).members.clear();
      drawMembers();
      return;
    }
    forget(conversation(m.room), m.name);
    show(m.room, event(m.name + " was kicked by " + m.by + (m.reason ? " (" + m.reason + ")" : ""), m.time));
    drawMembers();
  },
  renamed(m) {
    if (state.name !== null && key(m.from) === key(state.name)) { state.name = state.wanted = m.to; drawMe(); }
    for (const c of state.targets.values()) {
      if (c.members.delete(m.from)) {
        c.members.add(m.to);
        for (const set of [c.operators, c.voiced]) if (set.delete(key(m.from))) set.add(key(m.to));
        show(c.name, event(m.from + " is now " + m.to, m.time));
      }
    }
    const peer = state.targets.get(key(m.from));
    if (peer && !peer.room && !state.targets.has(key(m.to))) {
      state.targets.delete(key(m.from));
      peer.name = m.to;
      state.targets.set(key(m.to), peer);
      if (isShown(m.from)) state.target = m.to;
      show(m.to, event(m.from + " is now " + m.to, m.time));
      drawTargets();
      drawConversation();
    }
    drawMembers();
  },
  topic(m) {
    if (m.history) { past(m, m.by + (m.topic ? " set the topic: " + m.topic : " cleared the topic")); return; }
    const c = conversation(m.room);
    c.topic = m.topic;
    if (m.by) show(m.room, event(m.by + " set the topic: " + m.topic, m.time));
    else if (m.ref) show(m.room, event("topic: " + (m.topic || "(none)")));
    if (isShown(m.room)) $("topic").textContent = m.topic;
  },
  members(m) {
    const c = conversation(m.room);
    c.members = new Set(m.names);
    c.operators = new Set((m.operators || []).map(key));
    c.voiced = new Set((m.voiced || []).map(key));
    if (isShown(m.room)) drawMembers();
    if (state.whoRefs.delete(m.ref)) {
      const marked = m.names.map((n) => (c.operators.has(key(n)) ? "@" : c.voiced.has(key(n)) ? "+" : "") + n);
      show(m.room, event("here: " + marked.join(", ")));
    }
  },
  modes(m) {
    const c = conversation(m.room);
    for (const change of m.changes) {
      const [flag, who] = change.split(" ");
      const set = flag.endsWith("o") ? c.operators : flag.endsWith("v") ? c.voiced : null;
      if (set && who) { if (flag.startsWith("+")) set.add(key(who)); else set.delete(key(who)); }
    }
    show(m.room, event(m.by + " sets " + m.changes.join(" "), m.time));
    if (isShown(m.room)) drawMembers();
  },
  away(m) {
    if (m.away) state.away.set(key(m.name), m.away); else state.away.delete(key(m.name));
    drawMembers();
  },
  invited(m) { show(state.target, event(m.by + " invites you to " + m.room + " (/join " + m.room + ")", m.time)); },
  notice(m) { show(state.target, { kind: "notice", text: m.text, time: m.time }); },
  wallops(m) { show(state.target, { kind: "notice", text: "server operator " + m.from + ": " + m.text, time: m.time }); },
  motd(m) { for (const line of m.lines) show(state.target, { kind: "notice", text: line, time: m.time }); },
  error(m) {
    if (m.code === "already-in-room") return;  // rejoining after a reconnect
    if (state.login && m.ref === state.login.ref) {  // the account's password, not the server's
      state.login = null;
      if (m.code === "wrong-password") {
        state.accountName = state.accountPassword = null;  // asked for again
        $("account-password").value = "";
      }
      if (state.name === null) {  // still at the form: a reconnect waits for it
        state.wanted = null;
        $("login").hidden = false;
        $("login-error").textContent = m.text;
        $("account-password").focus();
      } else {
        show(state.target, { kind: "error", text: m.text + " (" + m.code + ")" });
      }
      return;
    }
    if (m.code === "name-registered") {  // log in soon, or be renamed: said where it is seen
      note(m.text);
      show(state.target, { kind: "notice", text: m.text });
      return;
    }
    if (m.code === "wrong-password" || m.code === "too-many-failures") state.password = null;
    if (state.name === null) {
      $("login").hidden = false;
      $("login-error").textContent = m.text;
      $("name").focus();
      return;
    }
    show(state.target, { kind: "error", text: m.text + " (" + m.code + ")" });
  },
  closing(m) { setState("closed: " + m.reason, "offline"); },
  pong() {},
};

// -- what the user types -------------------------------------------------------

function submit(text) {
  const split = splitLines(text, Math.max(1, Math.floor((state.limits.flood_burst || 10) / 2)));
  if (split.error) { show(state.target, { kind: "error", text: split.error }); return false; }
  for (const line of split.lines) {
    const what = interpret(line, state.target);
    if (what.error) show(state.target, { kind: "error", text: what.error });
    else if (what.help) show(state.target, { kind: "notice", text: what.help });
    else if (what.open) select(what.open);
    else {
      if (what.login) { logIn(what.send.name, what.send.password); continue; }
      const ref = send(what.send);
      if (ref !== null && what.who) state.whoRefs.add(ref);
    }
  }
  return split.lines.length > 0;
}

function completionNames() {
  const c = state.target && state.targets.get(key(state.target));
  const names = c && c.room ? [...c.members] : [];
  for (const other of state.targets.values()) if (!other.room) names.push(other.name);
  return names;
}

function onKey(e) {
  const input = $("text");
  if (e.key !== "Tab") state.completion = null;
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (!secret(text)) state.recall.push(text);
    submit(text);
    input.value = "";
    grow();
  } else if ((e.key === "ArrowUp" || e.key === "ArrowDown") && !e.altKey && !input.value.includes("\n")) {
    const recalled = e.key === "ArrowUp" ? state.recall.up(input.value) : state.recall.down();
    if (recalled === null) return;
    e.preventDefault();
    input.value = recalled;
    input.setSelectionRange(recalled.length, recalled.length);
    grow();
  } else if (e.key === "Tab" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
    const done = complete(input.value, input.selectionStart, completionNames(), state.name, state.completion);
    if (!done) return;  // nothing to complete: Tab moves the focus as usual
    e.preventDefault();
    state.completion = done;
    input.value = done.value;
    input.setSelectionRange(done.caret, done.caret);
  }
}

function grow() {
  const input = $("text");
  input.rows = Math.min(5, input.value.split("\n").length);
}

// -- the connection, with reconnect and backoff -------------------------------

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  setState("connecting", "connecting");
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.addEventListener("open", () => { setState("connected", "online"); state.backoff = 1000; });
  ws.addEventListener("message", (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    const handle = m && Object.hasOwn(handlers, m.type) ? handlers[m.type] : null;
    if (handle) handle(m);
  });
  ws.addEventListener("close", () => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.name = null;  // registered again on the next welcome
    state.account = null;  // and logged in again, with the password kept
    state.login = null;
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, 30000);
    setState("offline: retrying in " + Math.round(wait / 1000) + " s", "offline");
    clearTimeout(state.timer);
    state.timer = setTimeout(connect, wait + Math.random() * 500);
  });
}

// Registering: the server password first, on a server that has one (the
// page keeps it in memory, for reconnecting, and nowhere else).
// With an account's password, logging in registers under the account's name.
function enter() {
  if (state.needsPassword) send({ type: "pass", password: state.password });
  if (state.accounts && state.accountPassword) logIn(state.accountName, state.accountPassword);
  else send({ type: "register", name: state.wanted });
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  state.wanted = $("name").value.trim();
  state.password = state.needsPassword ? $("password").value : null;
  state.accountPassword = state.accounts && $("account-password").value ? $("account-password").value : null;
  state.accountName = state.accountPassword ? state.wanted : null;
  $("login-error").textContent = "";
  if (state.wanted) enter();
});
$("composer").addEventListener("submit", (e) => { e.preventDefault(); onKey({ key: "Enter", preventDefault() {} }); });
$("text").addEventListener("keydown", onKey);
$("text").addEventListener("input", grow);
$("notify").addEventListener("click", toggleNotify);
$("members-toggle").addEventListener("click", () => {
  const open = $("chat").getAttribute("data-members") !== "open";
  $("chat").setAttribute("data-members", open ? "open" : "closed");
  $("members-toggle").setAttribute("aria-expanded", String(open));
});
document.addEventListener("keydown", (e) => {
  if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
    e.preventDefault();
    step(e.key === "ArrowUp" ? -1 : 1);
  } else if (e.key === "Escape") {
    $("text").focus();
  }
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.target) select(state.target);  // seen now
});
drawNotify();
connect();

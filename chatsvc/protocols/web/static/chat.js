// The chatsvc page: a client of the JSON protocol on /ws (docs/user/web.rst).
// Everything anyone typed is put on the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const state = { ws: null, name: null, wanted: null, target: null, targets: new Map(),
                backoff: 1000, timer: null, nextRef: 1 };

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
    return true;
  }
  show(state.target, { kind: "error", text: "not connected: try again in a moment" });
  return false;
}

// -- conversations: rooms (#name) and people --------------------------------

function key(name) { return name.toLowerCase(); }

function conversation(name) {
  let c = state.targets.get(key(name));
  if (!c) {
    c = { name, messages: [], members: new Set(), topic: "", unread: 0, room: name.startsWith("#") || name.startsWith("&") };
    state.targets.set(key(name), c);
    drawTargets();
  }
  return c;
}

function drop(name) {
  state.targets.delete(key(name));
  if (state.target && key(state.target) === key(name)) {
    const first = state.targets.values().next().value;
    state.target = first ? first.name : null;
  }
  drawTargets();
  drawConversation();
}

function show(name, line) {
  if (!name) name = state.target;
  if (!name) return;
  const c = conversation(name);
  c.messages.push(line);
  if (c.messages.length > 500) c.messages.shift();
  if (state.target && key(state.target) === key(name)) {
    appendLine(line);
  } else {
    c.unread++;
    drawTargets();
  }
  if (!state.target) select(name);
}

function clock(time) {
  const when = time ? new Date(time) : new Date();
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function appendLine(line) {
  const list = $("messages");
  const item = el("li", line.kind + (line.mine ? " mine" : ""));
  const stamp = el("time", "", clock(line.time));
  if (line.time) stamp.dateTime = line.time;
  item.append(stamp);
  if (line.kind === "action") {
    item.append(el("span", "from", "* " + line.from), el("span", "", line.text));
  } else if (line.from) {
    item.append(el("span", "from", line.from), el("span", "", line.text));
  } else {
    item.append(el("span", "", line.text));
  }
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

function drawTargets() {
  const list = $("targets");
  list.replaceChildren();
  for (const c of state.targets.values()) {
    const button = el("button", "", c.name);
    button.type = "button";
    button.setAttribute("aria-current", String(state.target && key(state.target) === key(c.name)));
    if (c.unread) button.append(el("span", "unread", String(c.unread)));
    button.addEventListener("click", () => select(c.name));
    const item = el("li");
    item.append(button);
    list.append(item);
  }
}

function drawMembers() {
  const list = $("members");
  list.replaceChildren();
  const c = state.target && state.targets.get(key(state.target));
  if (!c || !c.room) return;
  for (const name of [...c.members].sort((a, b) => a.localeCompare(b))) {
    list.append(el("li", name === state.name ? "mine" : "", name));
  }
}

function drawConversation() {
  const c = state.target && state.targets.get(key(state.target));
  $("title").textContent = c ? c.name : "";
  $("topic").textContent = c && c.topic ? c.topic : "";
  $("messages").replaceChildren();
  if (c) c.messages.forEach(appendLine);
  drawMembers();
}

function select(name) {
  state.target = conversation(name).name;
  conversation(name).unread = 0;
  drawTargets();
  drawConversation();
  $("text").focus();
}

// -- what the server sends ---------------------------------------------------

function event(kind, text, time) { return { kind: "event", text, time }; }

const handlers = {
  welcome(m) { $("server").textContent = m.server; if (state.wanted) send({ type: "register", name: state.wanted }); },
  registered(m) {
    const first = state.name === null;
    state.name = m.name;
    state.wanted = m.name;
    $("me").textContent = "you are " + m.name;
    $("login").hidden = true;
    $("chat").hidden = false;
    if (first) {
      for (const c of state.targets.values()) if (c.room) send({ type: "join", room: c.name });
    }
    $("text").focus();
  },
  message(m) {
    show(m.room, { kind: m.action ? "action" : "said", from: m.from, text: m.text, time: m.time, mine: Boolean(m.self) });
  },
  private(m) {
    const peer = m.self ? m.to : m.from;
    show(peer, { kind: m.action ? "action" : "said", from: m.from, text: m.text, time: m.time, mine: Boolean(m.self) });
  },
  joined(m) {
    const c = conversation(m.room);
    if (m.self) {
      c.topic = m.topic || "";
      show(m.room, event("joined", "you joined " + m.room, m.time));
      send({ type: "who", room: m.room });
      select(m.room);
    } else {
      c.members.add(m.name);
      show(m.room, event("joined", m.name + " joined", m.time));
      drawMembers();
    }
  },
  left(m) {
    if (m.self) { drop(m.room); return; }
    const rooms = m.room ? [conversation(m.room)] : [...state.targets.values()].filter((c) => c.members.has(m.name));
    for (const c of rooms) {
      c.members.delete(m.name);
      show(c.name, event("left", m.name + (m.room ? " left" : " quit") + (m.reason ? " (" + m.reason + ")" : ""), m.time));
    }
    drawMembers();
  },
  kicked(m) {
    if (m.self) {
      show(m.room, event("kicked", "you were kicked by " + m.by + (m.reason ? " (" + m.reason + ")" : ""), m.time));
      return;
    }
    conversation(m.room).members.delete(m.name);
    show(m.room, event("kicked", m.name + " was kicked by " + m.by, m.time));
    drawMembers();
  },
  renamed(m) {
    for (const c of state.targets.values()) {
      if (c.members.delete(m.from)) { c.members.add(m.to); show(c.name, event("renamed", m.from + " is now " + m.to, m.time)); }
    }
    drawMembers();
  },
  topic(m) {
    const c = conversation(m.room);
    c.topic = m.topic;
    if (m.by) show(m.room, event("topic", m.by + " set the topic: " + m.topic, m.time));
    if (state.target && key(state.target) === key(m.room)) $("topic").textContent = m.topic;
  },
  members(m) {
    const c = conversation(m.room);
    c.members = new Set(m.names);
    drawMembers();
    if (m.ref && m.ref === state.whoRef) show(m.room, event("members", "here: " + m.names.join(", ")));
  },
  notice(m) { show(state.target, event("notice", m.text, m.time)); },
  motd(m) { for (const line of m.lines) show(state.target, event("notice", line, m.time)); },
  error(m) {
    if (m.code === "already-in-room") return;  // rejoining after a reconnect: the server's room
    if (state.name === null) { $("login-error").textContent = m.text; return; }
    show(state.target, { kind: "error", text: m.text + " (" + m.code + ")" });
  },
  closing(m) { setState("closed: " + m.reason, "offline"); },
  pong() {},
};

// -- what the user types -------------------------------------------------------

function command(text) {
  const [word, ...rest] = text.slice(1).split(" ");
  const arg = rest.join(" ").trim();
  switch (word.toLowerCase()) {
    case "join": return send({ type: "join", room: arg.split(" ")[0] });
    case "part": return send({ type: "part", room: arg || state.target });
    case "nick": return send({ type: "register", name: arg });
    case "topic": return send({ type: "topic", room: state.target, text: arg || null });
    case "who": send({ type: "who", room: arg || state.target }); state.whoRef = state.nextRef - 1; return true;
    case "me": return state.target && conversation(state.target).room
      ? send({ type: "me", room: state.target, text: arg }) : false;
    case "msg": {
      const [to, ...words] = arg.split(" ");
      return send({ type: "whisper", to, text: words.join(" ") });
    }
    default: show(state.target, { kind: "error", text: "unknown command: /" + word }); return false;
  }
}

function submit(text) {
  if (!text.trim()) return;
  if (text.startsWith("/") && !text.startsWith("//")) { command(text); return; }
  if (text.startsWith("//")) text = text.slice(1);
  if (!state.target) { show(null, { kind: "error", text: "join a room first: /join #chat" }); return; }
  const c = conversation(state.target);
  send(c.room ? { type: "say", room: c.name, text } : { type: "whisper", to: c.name, text });
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
    const handle = handlers[m.type];
    if (handle) handle(m);
  });
  ws.addEventListener("close", () => {
    state.ws = null;
    if (state.name !== null) state.name = null;  // registered again on the next welcome
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, 30000);
    setState("offline: retrying in " + Math.round(wait / 1000) + " s", "offline");
    clearTimeout(state.timer);
    state.timer = setTimeout(connect, wait + Math.random() * 500);
  });
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  state.wanted = $("name").value.trim();
  $("login-error").textContent = "";
  if (state.wanted) send({ type: "register", name: state.wanted });
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("text");
  submit(input.value);
  input.value = "";
});

connect();

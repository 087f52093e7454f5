// Runs the page's script (chatsvc/protocols/web/static/chat.js) against a
// minimal fake DOM and WebSocket, plays one scripted scenario, and prints
// what it sent and what the page shows, as JSON (tests/test_web_page.py
// checks it).  The fake DOM has no HTML parser at all: setting innerHTML (or
// any other way of turning text into markup) is recorded, and the test
// fails on it.
//
//   node web_page_harness.mjs INDEX_HTML STATIC_DIR_URL SCENARIO
import { readFileSync } from "node:fs";

const [html, staticUrl, scenario] = process.argv.slice(2);
const unsafe = [];

class Node {
  constructor(tag) {
    this.tagName = tag; this.children = []; this.text = ""; this.className = "";
    this.attributes = {}; this.listeners = {}; this.hidden = false; this.value = "";
    this.scrollTop = 0; this.scrollHeight = 0; this.selectionStart = 0; this.selectionEnd = 0;
    this.focused = 0;
  }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(""); }
  set textContent(value) { this.text = String(value); this.children = []; }
  set innerHTML(value) { unsafe.push(value); }
  set outerHTML(value) { unsafe.push(value); }
  insertAdjacentHTML(where, value) { unsafe.push(value); }
  append(...nodes) {
    for (const n of nodes) this.children.push(typeof n === "string" ? Object.assign(new Node("#text"), { text: n }) : n);
  }
  replaceChildren(...nodes) { this.children = []; this.text = ""; this.append(...nodes); }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  getAttribute(name) { return this.attributes[name] ?? null; }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  dispatch(type, fields = {}) {
    const event = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...fields };
    for (const fn of this.listeners[type] || []) fn(event);
    return event;
  }
  setSelectionRange(start, end) { this.selectionStart = start; this.selectionEnd = end; }
  focus() { this.focused++; }
  snapshot() {
    const shot = { tag: this.tagName, cls: this.className, text: this.text,
                   children: this.children.map((c) => c.snapshot()) };
    if (this.tagName === "a") shot.href = this.href;
    if (Object.keys(this.attributes).length) shot.attributes = this.attributes;
    return shot;
  }
}

const byId = new Map();
for (const match of readFileSync(html, "utf8").matchAll(/<(\w+)[^>]*\bid="([^"]+)"/g)) {
  byId.set(match[2], new Node(match[1]));
}
byId.get("chat").hidden = true;
byId.get("people-title").hidden = true;
for (const id of ["account-note", "account-password", "account-password-label", "account-hint"]) byId.get(id).hidden = true;
const created = new Set();
const documentListeners = {};
globalThis.document = {
  hidden: false, title: "chat",
  getElementById: (id) => byId.get(id) ?? null,
  createElement: (tag) => { created.add(tag); return new Node(tag); },
  write: (value) => unsafe.push(value),
  addEventListener: (type, fn) => { (documentListeners[type] ||= []).push(fn); },
};
const press = (fields) => {
  const event = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...fields };
  for (const fn of documentListeners.keydown || []) fn(event);
  return event;
};
globalThis.location = { protocol: "http:", host: "chat.example:8080" };
let focusedWindow = 0;
globalThis.focus = () => { focusedWindow++; };

const notes = [];
class FakeNotification {
  static permission = "default";
  static asked = 0;
  static async requestPermission() { FakeNotification.asked++; FakeNotification.permission = "granted"; return "granted"; }
  constructor(title, options) { this.title = title; this.body = options.body; this.closed = false; notes.push(this); }
  close() { this.closed = true; }
}
globalThis.Notification = FakeNotification;

const sockets = [];
class FakeWebSocket {
  static OPEN = 1;
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.listeners = {}; sockets.push(this); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  fire(type, event = {}) { for (const fn of this.listeners[type] || []) fn(event); }
  open() { this.readyState = 1; this.fire("open"); }
  receive(body) { this.fire("message", { data: typeof body === "string" ? body : JSON.stringify(body) }); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; this.fire("close"); }
}
globalThis.WebSocket = FakeWebSocket;
const timers = [];
globalThis.setTimeout = (fn, ms) => { timers.push({ fn, ms }); return timers.length; };
globalThis.clearTimeout = () => {};

const compose = await import(new URL("compose.js", staticUrl));
const text = await import(new URL("text.js", staticUrl));
await import(new URL("chat.js", staticUrl));

const $ = (id) => byId.get(id);
const ws = () => sockets[sockets.length - 1];
const input = $("text");
const key = (k, fields = {}) => input.dispatch("keydown", { key: k, ...fields });
const type = (value) => { input.value = value; input.selectionStart = value.length; return key("Enter"); };
const sent = () => ws().sent.map(({ ref, ...rest }) => rest);
const xss = "<img src=x onerror=alert(1)> javascript:alert(1)";
const t = "2026-12-03T14:27:05.123Z";
const lines = () => $("messages").snapshot().children;
const texts = (nodes) => nodes.map(function all(n) { return n.text + n.children.map(all).join(""); }).join("\n");

function login(name, rooms = ["#chat"]) {
  ws().open();
  ws().receive({ type: "welcome", server: "example", password: false, limits: { flood_burst: 10 } });
  $("name").value = name;
  $("login").dispatch("submit");
  ws().receive({ type: "registered", name });
  for (const room of rooms) ws().receive({ type: "joined", room, name: null, self: true, count: 1, topic: "" });
}

const scenarios = {
  // The first slice's session: what is sent, what is shown, and no markup.
  session() {
    ws().open();
    const stateOnline = $("state").textContent;
    ws().receive({ type: "welcome", server: "example", password: false, limits: {} });
    $("name").value = "alice";
    $("login").dispatch("submit");
    ws().receive({ type: "registered", name: "alice" });
    ws().receive({ type: "joined", room: "#chat", name: null, self: true, count: 2, topic: xss });
    ws().receive({ type: "members", room: "#chat", names: ["alice", "bob", xss], operators: [], voiced: [] });
    ws().receive({ type: "message", room: "#chat", from: xss, text: xss, id: "1", time: t });
    ws().receive({ type: "message", room: "#chat", from: "bob", text: "waves", action: true, id: "2", time: t });
    ws().receive({ type: "message", room: "#chat", from: "bob", text: "see https://example.org/a?b=1. and javascript:alert(1)", id: "2b", time: t });
    type("hello <b>bob</b>");
    ws().receive({ type: "message", room: "#chat", from: "alice", text: "hello <b>bob</b>", self: true, time: t });
    type("/me waves back");
    type("/msg bob psst");
    type("/who");
    type("/nick alicia");
    type("/join #rust");
    type("//slash");
    ws().receive({ type: "private", from: "bob", to: "alice", text: xss, id: "3", time: t });
    ws().receive({ type: "error", code: "no-such-user", text: xss });
    ws().receive("not json");
    ws().receive({ type: "constructor" });
    const chatView = $("messages").snapshot();
    const members = $("members").snapshot();
    const targets = { rooms: $("rooms").snapshot(), people: $("people").snapshot() };
    const topic = $("topic").textContent;
    const first = ws();
    first.close();
    const stateAfterClose = $("state").textContent;
    timers[timers.length - 1].fn();  // the reconnect
    const second = ws();
    second.open();
    second.receive({ type: "welcome", server: "example", password: false, limits: {} });
    second.receive({ type: "registered", name: "alice" });
    $("people").children[0].children[0].dispatch("click");  // bob's conversation
    second.receive({ type: "joined", room: "#chat", name: null, self: true, count: 2, topic: "" });
    const shownAfterRejoin = $("title").textContent;
    return { shownAfterRejoin,
      url: first.url, sent: first.sent, stateOnline, stateAfterClose,
      reconnectDelays: timers.map((x) => x.ms), resent: second.sent.map(({ ref, ...rest }) => rest),
      server: $("server").textContent, me: $("me").textContent, loginHidden: $("login").hidden,
      chatHidden: $("chat").hidden, topic, chatView, members, targets,
    };
  },

  // Unread counts, mentions, history, member status, private conversations.
  conversations() {
    login("alice", ["#chat", "#rust"]);  // #rust is shown: it was joined last
    ws().receive({ type: "members", room: "#chat", names: ["alice", "bob", "carol", "dave"],
                   operators: ["carol"], voiced: ["dave"] });
    ws().receive({ type: "message", room: "#chat", from: "bob", text: "anyone?", id: "10", time: t });
    ws().receive({ type: "message", room: "#chat", from: "bob", text: "Alice: ping", id: "11", time: t });
    const announced = $("announce").textContent;
    ws().receive({ type: "joined", room: "#chat", name: "erin" });
    const unreadChat = $("rooms").snapshot();
    ws().receive({ type: "message", room: "#rust", from: "bob", text: "malice is no mention", id: "12", time: t });
    $("rooms").children[0].children[0].dispatch("click");  // #chat
    const title = $("title").textContent;
    const chatLines = lines();
    const members = $("members").snapshot();
    const afterClick = $("rooms").snapshot();
    // history: before what came live, marked, not counted, deduplicated
    ws().receive({ type: "message", room: "#chat", from: "carol", text: "from yesterday", id: "5",
                   time: "2026-12-02T09:00:00.000Z", history: true });
    ws().receive({ type: "message", room: "#chat", from: "alice", text: "mine, earlier", id: "6",
                   time: "2026-12-02T09:01:00.000Z", history: true });
    ws().receive({ type: "message", room: "#chat", from: "carol", text: "from yesterday", id: "5",
                   time: "2026-12-02T09:00:00.000Z", history: true });
    const withHistory = lines();
    ws().receive({ type: "away", name: "dave", away: "lunch" });
    ws().receive({ type: "joined", room: "#chat", name: "frank", away: "gone fishing" });
    const away = $("members").snapshot();
    ws().receive({ type: "away", name: "dave", away: null });
    ws().receive({ type: "modes", room: "#chat", by: "carol", changes: ["+o bob", "-v dave", "+m"] });
    const afterModes = $("members").snapshot();
    ws().receive({ type: "private", from: "bob", to: "alice", text: "psst", id: "20", time: t });
    ws().receive({ type: "renamed", from: "bob", to: "robert" });
    const people = $("people").snapshot();
    const membersRenamed = $("members").snapshot();
    const documentTitle = document.title;
    press({ key: "ArrowDown", altKey: true, preventDefault() {} });
    const stepped = $("title").textContent;
    type("hi there");
    $("people").children[0].children[0].dispatch("click");  // robert
    const noMembers = [$("members-panel").hidden, $("members-toggle").hidden];
    type("/me waves");
    const meInPrivate = lines().at(-1);
    ws().receive({ type: "left", room: null, name: "carol", reason: "bye" });
    return { away, announced, unreadChat, title, chatLines, members, afterClick, withHistory, afterModes, people,
             membersRenamed, stepped, meInPrivate, noMembers, sent: sent(), documentTitle };
  },

  // Topic changes, joins and parts from the history: lines of the past, in
  // their place, that change neither the topic nor the members.
  historyEvents() {
    login("alice");
    ws().receive({ type: "members", room: "#chat", names: ["alice", "bob"], operators: [], voiced: [] });
    ws().receive({ type: "topic", room: "#chat", topic: "today's topic", by: null });
    ws().receive({ type: "message", room: "#chat", from: "bob", text: "live", id: "30", time: t });
    ws().receive({ type: "topic", room: "#chat", topic: xss, by: "carol", id: "21",
                   time: "2026-12-02T09:00:00.000Z", history: true });
    ws().receive({ type: "joined", room: "#chat", name: "dave", id: "22",
                   time: "2026-12-02T09:01:00.000Z", history: true });
    ws().receive({ type: "left", room: "#chat", name: "dave", reason: "lunch", id: "23",
                   time: "2026-12-02T09:02:00.000Z", history: true });
    ws().receive({ type: "left", room: "#chat", name: "dave", reason: "lunch", id: "23",
                   time: "2026-12-02T09:02:00.000Z", history: true });
    ws().receive({ type: "left", room: "#chat", name: "bob", reason: "", quit: true, id: "24",
                   time: "2026-12-02T09:03:00.000Z", history: true });
    return { lines: lines(), members: $("members").snapshot(), topic: $("topic").textContent };
  },

  // The composer: Enter, Shift+Enter, ↑ and ↓, Tab completion.
  composer() {
    login("alice");
    ws().receive({ type: "members", room: "#chat", names: ["alice", "bob", "bobby", "carol"],
                   operators: [], voiced: [] });
    const shiftEnter = key("Enter", { shiftKey: true }).defaultPrevented;
    type("one\ntwo\n\nthree");
    type("1\n2\n3\n4\n5\n6");
    const refused = lines().at(-1);
    const sentBefore = sent().length;
    type("first");
    type("last one");
    input.value = "draft";
    const up1 = key("ArrowUp").defaultPrevented && input.value;
    key("ArrowUp");
    const up2 = input.value;
    key("ArrowDown");
    const down1 = input.value;
    key("ArrowDown");
    const down2 = input.value;
    const multiUp = (() => { input.value = "a\nb"; return key("ArrowUp").defaultPrevented; })();
    input.value = "bo"; input.selectionStart = 2;
    const tab1 = key("Tab").defaultPrevented && input.value;
    input.selectionStart = input.selectionEnd;
    key("Tab");
    const tab2 = input.value;
    input.selectionStart = input.selectionEnd;
    key("Tab");
    const tab3 = input.value;
    input.value = "hi ca"; input.selectionStart = 5;
    key("Tab");
    const tabMid = input.value;
    input.value = "zz"; input.selectionStart = 2;
    const tabNone = key("Tab").defaultPrevented;
    input.value = ""; input.selectionStart = 0;
    const tabEmpty = key("Tab").defaultPrevented;
    return { shiftEnter, sent: sent(), refused, sentBefore, up1, up2, down1, down2, multiUp,
             tab1, tab2, tab3, tabMid, tabNone, tabEmpty };
  },

  // Notifications: none until asked for; then only when hidden, for mentions
  // and private messages.
  notifications() {
    login("alice");
    document.hidden = true;
    ws().receive({ type: "message", room: "#chat", from: "bob", text: "alice: before asking", id: "1", time: t });
    const before = notes.length;
    const announcedBefore = $("announce").textContent;
    return (async () => {
      $("notify").dispatch("click");
      await new Promise((resolve) => setImmediate(resolve));
      const button = $("notify").textContent;
      const pressed = $("notify").attributes["aria-pressed"];
      ws().receive({ type: "message", room: "#chat", from: "bob", text: "plain", id: "2", time: t });
      ws().receive({ type: "message", room: "#chat", from: "bob", text: "hey alice", id: "3", time: t });
      ws().receive({ type: "private", from: "carol", to: "alice", text: "psst", id: "4", time: t });
      ws().receive({ type: "message", room: "#chat", from: "bob", text: "alice old", id: "5", time: t, history: true });
      const unreadWhileHidden = $("rooms").snapshot();
      document.hidden = false;
      ws().receive({ type: "message", room: "#chat", from: "bob", text: "alice: visible now", id: "6", time: t });
      notes[0].onclick();
      return { before, announcedBefore, asked: FakeNotification.asked, button, pressed,
               notes: notes.map((n) => ({ title: n.title, body: n.body, closed: n.closed })),
               focusedWindow, title: $("title").textContent, unreadWhileHidden };
    })();
  },

  // A server with a password: asked for, sent before the name, asked again
  // after a wrong one (which closes the connection), kept for reconnecting.
  password() {
    ws().open();
    ws().receive({ type: "welcome", server: "example", password: true, limits: {} });
    const shown = [$("password").hidden, $("password").required];
    $("name").value = "alice";
    $("password").value = "wrong";
    $("login").dispatch("submit");
    const first = ws();
    first.receive({ type: "error", code: "wrong-password", text: "wrong password" });
    const error = $("login-error").textContent;
    const loginShown = !$("login").hidden;
    first.close();
    timers[timers.length - 1].fn();
    const second = ws();
    second.open();
    second.receive({ type: "welcome", server: "example", password: true, limits: {} });
    const sentUnasked = second.sent.length;  // no password: nothing sent by itself
    $("password").value = "s3cret";
    $("login").dispatch("submit");
    second.receive({ type: "ok" });
    second.receive({ type: "registered", name: "alice" });
    second.close();
    timers[timers.length - 1].fn();
    const third = ws();
    third.open();
    third.receive({ type: "welcome", server: "example", password: true, limits: {} });
    const strip = (socket) => socket.sent.map(({ ref, ...rest }) => rest);
    return { shown, error, loginShown, sentUnasked,
             first: strip(first), second: strip(second), third: strip(third) };
  },

  // Accounts: the optional account password logs in (after the server
  // password), errors in the form, kept in memory for reconnecting,
  // forgotten after a wrong one; /login and /logout; the grace warning.
  accounts() {
    ws().open();
    const strip = (socket) => socket.sent.map(({ ref, ...rest }) => rest);
    const hiddenBefore = $("account-password").hidden;
    ws().receive({ type: "welcome", server: "example", password: true, accounts: true, limits: {} });
    const shown = [$("account-password").hidden, $("account-password-label").hidden];
    const first = ws();
    const refOf = (type) => ws().sent.filter((m) => m.type === type).at(-1).ref;
    $("name").value = "alice";
    $("password").value = "server-pw";
    $("account-password").value = "wrong-one";
    $("login").dispatch("submit");
    first.receive({ type: "ok" });
    first.receive({ type: "error", code: "wrong-password", text: "wrong password", ref: refOf("login") });
    const wrong = { error: $("login-error").textContent, loginShown: !$("login").hidden,
                    cleared: $("account-password").value, focused: $("account-password").focused };
    first.close();  // a wrong account password: nothing sent by itself after a reconnect
    timers[timers.length - 1].fn();
    ws().open();
    ws().receive({ type: "welcome", server: "example", password: true, accounts: true, limits: {} });
    const sentAfterWrong = ws().sent.length;
    const retry = ws();
    $("account-password").value = "sesame-1";
    $("login").dispatch("submit");
    retry.receive({ type: "error", code: "too-many-failures", ref: refOf("login"),
                    text: "too many failed attempts: try again in 30 s" });
    const throttled = $("login-error").textContent;
    $("login").dispatch("submit");
    retry.receive({ type: "registered", name: "alice" });
    retry.receive({ type: "joined", room: "#chat", name: null, self: true, count: 1, topic: "" });
    retry.receive({ type: "logged-in", account: "alice", name: "alice", ref: refOf("login") });
    const me = $("me").textContent;
    retry.receive({ type: "notice", text: "1 message while you were away" });
    retry.receive({ type: "private", from: "bob", to: "alice", text: "see you", id: "30",
                    time: "2026-12-02T09:00:00.000Z", delayed: true });
    $("people").children[0].children[0].dispatch("click");  // bob
    const kept = lines().at(-1);
    $("rooms").children[0].children[0].dispatch("click");  // #chat
    retry.close();
    timers[timers.length - 1].fn();
    const second = ws();
    second.open();
    second.receive({ type: "welcome", server: "example", password: true, accounts: true, limits: {} });
    const loginRef = second.sent.at(-1).ref;
    second.receive({ type: "registered", name: "alice" });
    second.receive({ type: "logged-in", account: "alice", name: "alice", ref: loginRef });
    type("/login alice other-pw");
    type("/logout");
    const recalled = [key("ArrowUp") && input.value, key("ArrowUp") && input.value];
    second.receive({ type: "error", code: "name-registered", ref: second.sent.at(-1).ref,
                    text: "alice is registered: /login alice PASSWORD within 60 seconds or you will be renamed" });
    second.receive({ type: "logged-out", account: "alice", name: "alice", ref: second.sent.at(-1).ref });
    const warned = { note: $("account-note").textContent, noteShown: !$("account-note").hidden,
                     me: $("me").textContent };
    second.receive({ type: "notice", text: "you did not log in as alice: you are now Guest48213" });
    second.receive({ type: "registered", name: "Guest48213" });
    const guest = { me: $("me").textContent, noteShown: !$("account-note").hidden };
    second.receive({ type: "renamed", from: "Guest48213", to: "alice2" });
    const renamedMe = $("me").textContent;
    second.close();
    timers[timers.length - 1].fn();
    const third = ws();
    third.open();
    third.receive({ type: "welcome", server: "example", password: true, accounts: true, limits: {} });
    return { hiddenBefore, shown, wrong, sentAfterWrong, retry: strip(retry), throttled, me, kept, warned, guest, renamedMe, recalled,
             chatView: texts(lines()), first: strip(first), second: strip(second), third: strip(third) };
  },

  // The pure modules, called directly.
  units() {
    return {
      mentions: [["alice: hi", "alice"], ["hi @Alice!", "alice"], ["malice", "alice"],
                 ["alice_", "alice"], ["[a]", "[a]"], ["hi", null]].map(([s, n]) => text.mentions(s, n)),
      segments: ["see https://x.example/a).", "javascript:alert(1) http://ok.example",
                 "https://", "<a href=\"javascript:alert(1)\">x</a>", "HTTPS://Y.example/"].map(text.segments),
      interpret: [["/join #a k", "#chat"], ["/join", "#chat"], ["/part", "#chat"], ["/part #b bye now", "bob"],
                  ["/part", "bob"], ["/msg bob hi there", "#chat"], ["/msg bob", "#chat"], ["/me", "#chat"],
                  ["/me x", "bob"], ["/topic", "#chat"], ["/topic new one", "#chat"], ["/nick", null],
                  ["/who", null], ["/who #x", null], ["/bogus", "#chat"], ["hello", null], ["hello", "bob"],
                  ["//x", "#chat"], ["/help", null], ["/login alice pw", "#chat"], ["/login alice", null],
                  ["/logout", null], ["/register #rust", "#chat"], ["/register pw", null],
                  ["/unregister #rust", null], ["/unregister", null]]
        .map(([s, h]) => compose.interpret(s, h)),
      secret: ["/login a b", "  /LOGIN a", "/logout", "/loginx", "hello /login"].map(compose.secret),
      clockToday: text.clock("2026-12-03T14:27:05.123Z", new Date("2026-12-03T15:00:00Z")),
      clockOld: text.clock("2026-11-30T14:27:05.123Z", new Date("2026-12-03T15:00:00Z")),
    };
  },
};

const result = await scenarios[scenario]();
console.log(JSON.stringify({ ...result, unsafe, created: [...created].sort() }));

// Runs the page's script (chatsvc/protocols/web/static/chat.js) against a
// minimal fake DOM and WebSocket, plays a scripted session, and prints what
// it sent and what the page shows, as JSON (tests/test_web_page.py checks it).
// The fake DOM has no HTML parser at all: setting innerHTML (or any other
// way of turning text into markup) is recorded, and the test fails on it.
import { readFileSync } from "node:fs";

const [html, script] = process.argv.slice(2);
const unsafe = [];

class Node {
  constructor(tag) {
    this.tagName = tag; this.children = []; this.text = ""; this.className = "";
    this.attributes = {}; this.listeners = {}; this.hidden = false; this.value = "";
    this.scrollTop = 0; this.scrollHeight = 0;
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
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  dispatch(type) { for (const fn of this.listeners[type] || []) fn({ preventDefault() {} }); }
  focus() {}
  snapshot() {
    return { tag: this.tagName, cls: this.className, text: this.text,
             children: this.children.map((c) => c.snapshot()) };
  }
}

const byId = new Map();
for (const match of readFileSync(html, "utf8").matchAll(/<(\w+)[^>]*\bid="([^"]+)"/g)) {
  byId.set(match[2], new Node(match[1]));
}
byId.get("chat").hidden = true;
const created = new Set();
globalThis.document = {
  getElementById: (id) => byId.get(id) ?? null,
  createElement: (tag) => { created.add(tag); return new Node(tag); },
  write: (value) => unsafe.push(value),
};
globalThis.location = { protocol: "http:", host: "chat.example:8080" };

const sockets = [];
class FakeWebSocket {
  static OPEN = 1;
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.listeners = {}; sockets.push(this); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  fire(type, event = {}) { for (const fn of this.listeners[type] || []) fn(event); }
  open() { this.readyState = 1; this.fire("open"); }
  receive(body) { this.fire("message", { data: JSON.stringify(body) }); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; this.fire("close"); }
}
globalThis.WebSocket = FakeWebSocket;
const timers = [];
globalThis.setTimeout = (fn, ms) => { timers.push(ms); return timers.length; };
globalThis.clearTimeout = () => {};

await import(script);

const $ = (id) => byId.get(id);
const ws = sockets[0];
const type = (text) => { $("text").value = text; $("composer").dispatch("submit"); };
const xss = "<img src=x onerror=alert(1)> javascript:alert(1)";
const t = "2026-12-03T14:27:05.123Z";

ws.open();
const stateOnline = $("state").textContent;
ws.receive({ type: "welcome", server: "example", password: false, limits: {} });
$("name").value = "alice";
$("login").dispatch("submit");
ws.receive({ type: "registered", name: "alice" });
ws.receive({ type: "joined", room: "#chat", name: null, self: true, count: 2, topic: xss });
ws.receive({ type: "members", room: "#chat", names: ["alice", "bob", xss], operators: [], voiced: [] });
ws.receive({ type: "message", room: "#chat", from: xss, text: xss, id: "1", time: t });
ws.receive({ type: "message", room: "#chat", from: "bob", text: "waves", action: true, id: "2", time: t });
type("hello <b>bob</b>");
ws.receive({ type: "message", room: "#chat", from: "alice", text: "hello <b>bob</b>", self: true, time: t });
type("/me waves back");
type("/msg bob psst");
type("/who");
type("/nick alicia");
type("/join #rust");
type("//slash");
ws.receive({ type: "private", from: "bob", to: "alice", text: xss, id: "3", time: t });
ws.receive({ type: "error", code: "no-such-user", text: xss });
const chatView = $("messages").snapshot();
const members = $("members").snapshot();
const targets = $("targets").snapshot();
ws.close();

console.log(JSON.stringify({
  url: ws.url, sent: ws.sent, stateOnline, stateAfterClose: $("state").textContent,
  reconnectDelays: timers, server: $("server").textContent, me: $("me").textContent,
  loginHidden: $("login").hidden, chatHidden: $("chat").hidden, topic: $("topic").textContent,
  chatView, members, targets, unsafe, created: [...created].sort(),
}));

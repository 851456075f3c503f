// repsense gym view: every node on the broker, live, through the server's WebSocket /ws/gym
// (docs/mqtt.md says why not MQTT over WebSockets from the page).
// Server -> page: {type: "nodes", broker, nodes: [view...]} on connect (and after falling behind),
// then {type: "node", node: view} per change. view: {node, online, exercise, count, total_reps,
// last_cue, hold_s, session, engine, last_seen, gone, people}; a node that is gone (a browser
// session that ended) loses its card. A node that follows several people sends their events with
// a person id: `people` then has one row each {person, exercise, count, total_reps, last_cue,
// hold_s}, shown as one line per person in the station's card.

const grid = document.getElementById("nodes");
const empty = document.getElementById("empty");
const conn = document.getElementById("conn");
const template = document.getElementById("node-card");
const cards = new Map();   // node id -> {el, view}
// Exercise names as every page writes them ("Jumping jack"): the catalogue's display names.
const displays = new Map();
const display = (name) => displays.get(name) || (name ? name.charAt(0).toUpperCase() + name.slice(1).replaceAll("_", " ") : name);

function setConn(state, text) {
  conn.dataset.state = state;
  conn.textContent = text;
}

function field(el, name) {
  return el.querySelector(`[data-field="${name}"]`);
}

function ago(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function render(view) {
  let entry = cards.get(view.node);
  if (!entry) {
    const el = template.content.firstElementChild.cloneNode(true);
    el.dataset.node = view.node;
    entry = { el, view: null };
    cards.set(view.node, entry);
    const after = [...cards.keys()].sort().find((k) => k > view.node && cards.get(k).el.isConnected);
    grid.insertBefore(el, after ? cards.get(after).el : null);
  }
  const { el } = entry;
  const bumped = entry.view && view.count > entry.view.count;
  entry.view = view;
  el.dataset.online = String(Boolean(view.online));
  field(el, "node").textContent = view.node;
  const state = field(el, "state");
  state.dataset.state = view.online ? "online" : "offline";
  state.textContent = view.online ? "online" : "offline";
  field(el, "exercise").textContent = view.exercise ? display(view.exercise) : "waiting for an exercise";
  const hold = view.hold_s !== null && view.hold_s !== undefined;
  field(el, "count").textContent = hold ? Math.round(view.hold_s) : view.count;
  field(el, "unit").textContent = hold ? "s held" : view.count === 1 ? "rep" : "reps";
  field(el, "cue").textContent = view.last_cue || "";
  field(el, "total").textContent = `${view.total_reps} rep${view.total_reps === 1 ? "" : "s"} this session`;
  field(el, "engine").textContent = view.engine === "server" ? "counted on the server" : "";
  field(el, "seen").textContent = view.last_seen ? `seen ${ago(view.last_seen)}` : "";
  const people = view.people || [];
  renderPeople(field(el, "people"), people);
  // a station that follows several people shows their lines instead of one count
  field(el, "count").parentElement.hidden = people.length > 0;
  field(el, "exercise").hidden = people.length > 0;
  field(el, "cue").hidden = people.length > 0 && !view.last_cue;
  if (people.length) {
    const total = people.reduce((n, p) => n + p.total_reps, 0);
    field(el, "total").textContent = `${people.length} people, ${total} reps this session`;
  }
  if (bumped) {
    el.classList.add("g-bump");
    setTimeout(() => el.classList.remove("g-bump"), 600);
  }
  empty.hidden = cards.size > 0;
}

function renderPeople(list, people) {
  list.hidden = people.length === 0;
  list.replaceChildren(...people.map((p) => {
    const row = document.createElement("li");
    row.className = "g-person";
    row.setAttribute("data-testid", "person-row");
    row.dataset.person = String(p.person);
    const hold = p.hold_s !== null && p.hold_s !== undefined;
    const what = (p.exercise || "waiting").replaceAll("_", " ");
    const count = hold ? `${Math.round(p.hold_s)} s held` : `${p.count} ${p.count === 1 ? "rep" : "reps"}`;
    const name = document.createElement("b");
    name.textContent = `person ${p.person}`;
    const text = document.createElement("span");
    text.textContent = ` ${what}: ${count}${p.last_cue ? ` — ${p.last_cue}` : ""}`;
    row.append(name, text);
    return row;
  }));
}

function replaceAll(nodes) {
  for (const { el } of cards.values()) el.remove();
  cards.clear();
  nodes.forEach(render);
  empty.hidden = cards.size > 0;
}

let delay = 500;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/gym${location.search}`);
  ws.onopen = () => { delay = 500; setConn("live", "live"); };
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg.type === "nodes") {
      document.getElementById("broker").textContent = msg.broker ? `(${msg.broker})` : "";
      replaceAll(msg.nodes || []);
    } else if (msg.type === "node" && msg.node && msg.node.gone) {
      const entry = cards.get(msg.node.node);
      if (entry) { entry.el.remove(); cards.delete(msg.node.node); }
      empty.hidden = cards.size > 0;
    } else if (msg.type === "node" && msg.node) {
      render(msg.node);
    }
  };
  ws.onclose = () => {
    setConn("reconnecting", "reconnecting");
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10000);
  };
}

setInterval(() => {
  for (const { el, view } of cards.values()) {
    if (view && view.last_seen) field(el, "seen").textContent = `seen ${ago(view.last_seen)}`;
  }
}, 5000);

fetch(`/api/exercises${location.search}`).then((r) => (r.ok ? r.json() : [])).then((list) => {
  for (const ex of list) displays.set(ex.name, ex.display);
  for (const { view } of cards.values()) if (view) render(view);
}).catch(() => {}).finally(connect);

// repsense history page: reads /api/history/* and draws with Chart.js (served from npm's package).
const $ = (id) => document.getElementById(id);
const COLORS = ["#34d399", "#60a5fa", "#a78bfa", "#fb923c", "#f472b6", "#facc15", "#22d3ee", "#f05252"];
const tz = -new Date().getTimezoneOffset();
const state = { profile: new URLSearchParams(location.search).get("profile") || localStorage.getItem("repsense.profile") || "", period: "day", exercise: "" };
const charts = {};

function q(extra = {}) {
  const p = new URLSearchParams({ tz: String(tz), ...extra });
  if (state.profile) p.set("profile", state.profile);
  return p.toString();
}

async function get(path, extra) {
  const r = await fetch(`/api/history/${path}?${q(extra)}`);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// Exercise names as every page writes them ("Jumping jack"): the catalogue's display names.
const displays = new Map();
const nice = (name) => esc(displays.get(name) || (name.charAt(0).toUpperCase() + name.slice(1)).replace(/_/g, " "));
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
// With few points a line is a dot at the edge: show the points, centred, and keep bars slim.
const FEW = 7;
const BAR = { maxBarThickness: 56 };
const color = (i) => COLORS[i % COLORS.length];
const fmtDay = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

function draw(id, config) {
  if (!window.Chart) return;
  if (charts[id]) charts[id].destroy();
  Chart.defaults.color = "#8d97b3";
  Chart.defaults.borderColor = "#243052";
  Chart.defaults.animation = false;
  charts[id] = new Chart($(id), { ...config, options: { responsive: true, maintainAspectRatio: false, ...config.options } });
}

function allPeriods(byEx) {
  return [...new Set(Object.values(byEx).flatMap((rows) => rows.map((r) => r.period)))].sort();
}

function volumeCharts(vol) {
  const labels = allPeriods(vol.exercises);
  const names = Object.keys(vol.exercises);
  const series = (key, scale = 1) => names.map((ex, i) => {
    const by = Object.fromEntries(vol.exercises[ex].map((r) => [r.period, r[key] * scale]));
    return { label: nice(ex), data: labels.map((l) => by[l] ?? 0), backgroundColor: color(i), borderColor: color(i), ...BAR };
  });
  draw("chart-reps", { type: "bar", data: { labels, datasets: series("reps").filter((d) => d.data.some((v) => v)) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "reps" } } } } });
  const tut = series("tut_s", 1 / 60).filter((d) => d.data.some((v) => v));
  const holds = names.map((ex, i) => {
    const by = Object.fromEntries(vol.exercises[ex].map((r) => [r.period, r.hold_s / 60]));
    return { label: `${nice(ex)} hold`, data: labels.map((l) => by[l] ?? 0), backgroundColor: color(i + 4), borderColor: color(i + 4), ...BAR };
  }).filter((d) => d.data.some((v) => v));
  draw("chart-volume", { type: "bar", data: { labels, datasets: [...tut, ...holds] },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "minutes" } } } } });
}

function trendCharts(trends) {
  const names = Object.keys(trends.exercises);
  const pick = $("trend-exercise");
  if (!names.includes(state.exercise)) state.exercise = names[0] || "";
  pick.replaceChildren(...names.map((n) => new Option(nice(n), n, false, n === state.exercise)));
  const rows = trends.exercises[state.exercise] || [];
  // one point per session: with few of them, the session's time tells two of one day apart
  const few = rows.length <= FEW;
  const labels = rows.map((r) => (few ? fmtDay(r.started_at) : r.day));
  const radius = few ? 5 : 1.5;
  const x = { offset: few };
  draw("chart-form", { type: "line", data: { labels, datasets: [
    { label: `${nice(state.exercise)} form score`, data: rows.map((r) => r.form_score), borderColor: COLORS[0], backgroundColor: COLORS[0], pointRadius: radius, tension: 0.25, spanGaps: true },
  ] }, options: { scales: { x, y: { suggestedMin: 0, suggestedMax: 100 } } } });
  const rom = rows.some((r) => r.rom_pct != null) ? "rom_pct" : "rom_deg";
  draw("chart-rom", { type: "line", data: { labels, datasets: [
    { label: rom === "rom_pct" ? "range of motion (% of full)" : "range of motion (deg)", data: rows.map((r) => r[rom]), borderColor: COLORS[1], backgroundColor: COLORS[1], yAxisID: "y", pointRadius: radius, tension: 0.25, spanGaps: true },
    { label: "seconds per rep", data: rows.map((r) => r.rep_s), borderColor: COLORS[3], backgroundColor: COLORS[3], yAxisID: "y1", pointRadius: radius, tension: 0.25, spanGaps: true },
  ] }, options: { scales: { x, y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } } });
}

function faultChart(faults) {
  const items = [];
  for (const [ex, r] of Object.entries(faults.recent)) for (const f of r.faults) items.push({ ex, ...f });
  items.sort((a, b) => b.share - a.share);
  const top = items.slice(0, 8);
  $("faults-note").textContent = `share of reps, last ${plural(faults.last_sessions, "session")}`;
  $("faults-none").hidden = top.length > 0;
  $("chart-faults").parentElement.hidden = !top.length;
  if (!top.length) { charts["chart-faults"]?.destroy(); delete charts["chart-faults"]; return; }
  draw("chart-faults", { type: "bar", data: { labels: top.map((f) => `${nice(f.ex)}: ${f.words}`), datasets: [
    { label: "% of reps", data: top.map((f) => Math.round(f.share * 1000) / 10), backgroundColor: COLORS[3], ...BAR },
  ] }, options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { suggestedMax: 50 } } } });
}

function bestsTable(bests) {
  const cell = (b, unit = "") => b ? `<b>${b.value}${unit}</b> <small class="muted">${esc(b.day)}</small>` : "–";
  $("bests").tBodies[0].innerHTML = Object.entries(bests.exercises).map(([ex, b]) =>
    `<tr><td>${nice(ex)}</td><td>${cell(b.most_reps_in_a_set)}</td><td>${cell(b.best_form_score)}</td><td>${cell(b.longest_hold_s, " s")}</td></tr>`).join("");
}

function cards(streaks, vol, sessions) {
  $("streak-now").textContent = plural(streaks.current_days, "day");
  $("streak-best").textContent = `longest ${plural(streaks.longest_days, "day")} · ${plural(streaks.current_weeks, "week")} in a row`;
  $("days-30").textContent = streaks.days_last_30;
  $("weeks").textContent = `${plural(streaks.active_days, "active day")} in all`;
  const since = new Date(Date.now() - 30 * 86400e3).toISOString().slice(0, 10);
  let reps = 0, good = 0;
  for (const rows of Object.values(vol.exercises)) for (const r of rows) if (r.period >= since) { reps += r.reps; good += r.good_reps; }
  $("reps-30").textContent = reps;
  $("good-30").textContent = reps ? `${Math.round((100 * good) / reps)}% in good form` : "";
  $("n-sessions").textContent = sessions.length >= 50 ? "50+" : sessions.length;
  $("last-session").textContent = sessions[0] ? `last ${fmtDay(sessions[0].started_at)}` : "none yet";
}

function sessionsTable(sessions) {
  const body = $("sessions").tBodies[0];
  body.innerHTML = "";
  for (const s of sessions) {
    const tr = body.insertRow();
    tr.dataset.id = s.id;
    const ex = s.exercises.map((e) => e.reps ? `${nice(e.name)} ${e.reps} (${e.good_reps} good)` : `${nice(e.name)} ${Math.round(e.hold_s || 0)} s`).join(", ");
    tr.innerHTML = `<td>${fmtDay(s.started_at)}</td><td>${esc(s.profile)}</td><td class="h-status-${esc(s.status)}">${esc(s.status)}</td><td>${s.total_reps}</td><td>${ex || "–"}</td>`;
    tr.addEventListener("click", () => showSession(s.id));
  }
}

async function showSession(id) {
  const r = await fetch(`/api/history/sessions/${encodeURIComponent(id)}`);
  if (!r.ok) return;
  const s = await r.json();
  const box = $("detail");
  const sets = s.sets.map((x) => `<tr><td>${x.idx}</td><td>${nice(x.exercise)}</td><td>${x.reps}</td><td>${x.good_reps ?? "–"}</td><td>${x.tut_s == null ? "–" : x.tut_s.toFixed(1) + " s"}</td><td>${x.rest_before_s == null ? "–" : Math.round(x.rest_before_s) + " s"}</td></tr>`).join("");
  const holds = s.holds.map((h) => `<li>${nice(h.exercise)}: held ${h.held_s.toFixed(1)} s</li>`).join("");
  const num = (v, d) => (v == null ? "–" : v.toFixed(d));
  const reps = s.reps.map((x) => `<tr><td>${x.idx}</td><td>${x.set_idx ?? "–"}</td><td>${nice(x.exercise)}</td><td>${((x.end_ms - x.start_ms) / 1000).toFixed(1)} s</td><td>${num(x.eccentric_s, 1)} / ${num(x.concentric_s, 1)} s</td><td>${x.rom_pct != null ? num(x.rom_pct, 0) + "%" : num(x.rom_deg, 0) + "°"}</td><td>${num(x.form_score, 0)}</td><td>${x.faults.map((f) => esc(f.code)).join(" ") || "–"}</td></tr>`).join("");
  box.innerHTML = `<h4>Session ${esc(s.id)} · ${esc(s.status)} · ${s.total_reps} reps</h4>
    <table class="h-table"><thead><tr><th>Set</th><th>Exercise</th><th>Reps</th><th>Good</th><th>Under tension</th><th>Rest before</th></tr></thead><tbody>${sets || "<tr><td colspan=6 class=muted>no sets</td></tr>"}</tbody></table>
    ${holds ? `<ul>${holds}</ul>` : ""}
    ${reps ? `<details><summary>${s.reps.length} reps</summary><table class="h-table"><thead><tr><th>#</th><th>Set</th><th>Exercise</th><th>Duration</th><th>Down / up</th><th>Range</th><th>Score</th><th>Faults</th></tr></thead><tbody>${reps}</tbody></table></details>` : ""}`;
  box.hidden = false;
}

// Each plan's guided sessions and how much of it they did (/api/plans/sessions, docs/plans.md).
async function plansTable() {
  const p = new URLSearchParams({ limit: "500" });
  if (state.profile) p.set("profile", state.profile);
  const r = await fetch(`/api/plans/sessions?${p}`);
  if (!r.ok) return;
  const { sessions } = await r.json();
  const byPlan = new Map();
  for (const s of sessions) {
    if (!byPlan.has(s.plan_id)) byPlan.set(s.plan_id, []);
    byPlan.get(s.plan_id).push(s);
  }
  if (!byPlan.size) return;
  const pct = (x) => `${Math.round(x * 100)}%`;
  $("plans-history").tBodies[0].innerHTML = [...byPlan.values()].map((list) => {
    const runs = list.slice(0, 12).map((s) => `<span class="h-adh${s.complete ? " done" : ""}" title="${esc(fmtDay(s.started_at))}">${pct(s.adherence)}</span>`).join(" ");
    return `<tr data-plan="${esc(list[0].plan_id)}"><td>${esc(list[0].plan_name)}</td><td>${list.length}</td><td>${fmtDay(list[0].started_at)}</td><td>${runs}</td></tr>`;
  }).join("");
}

async function loadProfiles() {
  const { profiles } = await get("profiles");
  const sel = $("profile");
  sel.replaceChildren(new Option("everyone", ""), ...profiles.map((p) => new Option(`${p.name} (${p.sessions})`, p.name)));
  sel.value = state.profile;
}

async function load() {
  $("status").textContent = "Loading the history…";
  $("export").href = `/api/history/export?${q({ format: "csv" })}`;
  $("export-json").href = `/api/history/export?${q({ format: "json" })}`;
  try {
    const [sessions, vol, trends, faults, bests, streaks, insights] = await Promise.all([
      get("sessions", { limit: "50" }), get("volume", { period: state.period }), get("trends"),
      get("faults"), get("bests"), get("streaks"), get("insights")]);
    cards(streaks, vol, sessions.sessions);
    $("insights").innerHTML = insights.insights.length
      ? insights.insights.map((i) => `<li data-kind="${esc(i.kind)}">${esc(i.text)}</li>`).join("")
      : `<li class="muted">Not enough sessions yet for insights.</li>`;
    volumeCharts(vol);
    state.trends = trends;
    trendCharts(trends);
    faultChart(faults);
    bestsTable(bests);
    sessionsTable(sessions.sessions);
    plansTable().catch(() => {});
    $("status").textContent = !window.Chart ? "Charts need Chart.js (run setup.sh to install the page's npm packages)."
      : sessions.sessions.length ? "" : "No sessions stored yet: train on the Live page, or run `repsense analyze VIDEO --store`.";
    document.body.dataset.ready = "1";
  } catch (err) {
    $("status").textContent = `Could not load the history: ${err.message}`;
    document.body.dataset.ready = "error";
  }
}

$("profile").addEventListener("change", (e) => {
  state.profile = e.target.value;
  // the live page stores its sessions under the profile picked here
  if (state.profile) localStorage.setItem("repsense.profile", state.profile); else localStorage.removeItem("repsense.profile");
  const url = new URL(location.href);
  if (state.profile) url.searchParams.set("profile", state.profile); else url.searchParams.delete("profile");
  history.replaceState(null, "", url);
  load();
});
for (const b of document.querySelectorAll(".seg button")) {
  b.addEventListener("click", async () => {
    state.period = b.dataset.period;
    for (const o of document.querySelectorAll(".seg button")) o.setAttribute("aria-pressed", String(o === b));
    volumeCharts(await get("volume", { period: state.period }));
  });
}
$("trend-exercise").addEventListener("change", (e) => { state.exercise = e.target.value; trendCharts(state.trends); });

async function loadDisplays() {
  const r = await fetch(`/api/exercises${location.search}`);
  if (r.ok) for (const ex of await r.json()) displays.set(ex.name, ex.display);
}

Promise.all([loadProfiles().catch(() => {}), loadDisplays().catch(() => {})]).finally(load);

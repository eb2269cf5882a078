// The cuvee console: a client of the HTTP API this page is served by (Pinot's query and
// controller calls, cuvee's /topics, /queries and /debug/routing). No framework: views are
// rebuilt from answers with DOM calls, and every value is set as text, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);

/** An element with attributes (`on*` are listeners, `class` is the class) and children. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
}

/** Calls the API; an answer that is not 2xx throws an Error with the server's message. */
async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!response.ok) {
    const message = (json && (json.error || json.message || json.status)) || text || response.statusText;
    const error = new Error(`${response.status}: ${message}`);
    error.status = response.status;
    throw error;
  }
  return json;
}

const enc = encodeURIComponent;
const fmtInt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
function fmtTime(ms) {
  if (ms === null || ms === undefined || ms <= 0) return "–";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function fmtAgo(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}
const badge = (text, kind) => el("span", { class: `badge ${kind || ""}` }, text);
function errorBox(error) {
  return el("div", { class: "status error" }, String(error && error.message ? error.message : error));
}

// ---------------------------------------------------------------- views and navigation

const VIEWS = ["query", "tables", "consumers", "topics", "servers"];
let current = null;
let poller = null;

function route() {
  const [view, ...rest] = (location.hash.slice(1) || "query").split("/");
  const name = VIEWS.includes(view) ? view : "query";
  for (const v of VIEWS) $(`view-${v}`).classList.toggle("hidden", v !== name);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.view === name);
  if (poller) { clearInterval(poller); poller = null; }
  current = name;
  const arg = rest.map(decodeURIComponent).join("/");
  if (name === "tables") showTables(arg);
  if (name === "consumers") { refreshConsumers(); poller = setInterval(refreshConsumers, 2000); }
  if (name === "topics") showTopics(arg);
  if (name === "servers") { refreshServers(); poller = setInterval(refreshServers, 2000); }
}

async function health() {
  const node = $("health");
  try {
    const tables = await api("GET", "/tables");
    node.textContent = `healthy · ${tables.tables.length} table${tables.tables.length === 1 ? "" : "s"}`;
    node.classList.remove("bad");
  } catch (e) {
    node.textContent = e.status === 401 || e.status === 403 ? "not allowed" : "unreachable";
    node.classList.add("bad");
  }
}

// ---------------------------------------------------------------- query

const HISTORY_KEY = "cuvee.history";
let lastResult = null;
let mode = "table";

function history() {
  try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]"); } catch (_) { return []; }
}
function remember(sql) {
  const kept = [sql, ...history().filter((s) => s !== sql)].slice(0, 50);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(kept));
  showHistory();
}
function showHistory() {
  clear($("history"), history().map((sql) =>
    el("li", { title: sql, onclick: () => { $("sql").value = sql; $("sql").focus(); } }, sql.replace(/\s+/g, " "))));
}

async function run(explain) {
  const sql = $("sql").value.trim().replace(/;+\s*$/, "");
  if (!sql) return;
  remember(sql);
  const status = $("query-status");
  status.className = "status loading";
  status.textContent = explain ? "Explaining…" : "Running…";
  clear($("query-stats"));
  for (const b of [$("run"), $("explain")]) b.disabled = true;
  const started = performance.now();
  try {
    const text = explain ? `EXPLAIN ANALYZE ${sql}` : sql;
    const answer = await api("POST", "/query/sql", { sql: text });
    const elapsed = performance.now() - started;
    if (answer.exceptions && answer.exceptions.length) {
      status.className = "status error";
      clear(status, answer.exceptions.map((x) =>
        el("div", {}, el("span", { class: "code" }, `Pinot error ${x.errorCode}`), x.message)));
      clear($("results"));
      $("chart").classList.add("hidden");
      lastResult = null;
      return;
    }
    status.className = "status";
    status.textContent = "";
    showStats(answer, elapsed);
    lastResult = explain ? null : answer;
    if (explain) showPlan(answer); else showResult();
  } catch (e) {
    status.className = "status error";
    status.textContent = e.message;
  } finally {
    for (const b of [$("run"), $("explain")]) b.disabled = false;
  }
}

function showStats(a, elapsed) {
  const stat = (label, value) => el("span", { class: "stat" }, `${label} `, el("b", {}, value));
  const consuming = a.numConsumingSegmentsQueried
    ? stat("consuming matched", `${a.numConsumingSegmentsMatched}/${a.numConsumingSegmentsQueried}`) : null;
  clear($("query-stats"),
    stat("rows", fmtInt(a.numRowsResultSet)),
    stat("server time", `${a.timeUsedMs} ms`),
    stat("round trip", `${elapsed.toFixed(0)} ms`),
    stat("docs scanned", `${fmtInt(a.numDocsScanned)} of ${fmtInt(a.totalDocs)}`),
    stat("segments matched", `${a.numSegmentsMatched}/${a.numSegmentsQueried}`),
    consuming,
    a.minConsumingFreshnessTimeMs > 0 ? stat("fresh to", fmtTime(a.minConsumingFreshnessTimeMs)) : null,
    a.partialResult ? el("span", { class: "stat" }, badge("partial result", "warn")) : null,
    stat("request", a.requestId || "–"));
}

function showPlan(answer) {
  $("chart").classList.add("hidden");
  const rows = (answer.resultTable && answer.resultTable.rows) || [];
  clear($("results"), rows.map((r) =>
    el("div", {}, el("h3", {}, r[0]), el("pre", { class: "plan" }, r.slice(1).join("\n")))));
}

function showResult() {
  const a = lastResult;
  if (!a || !a.resultTable) { clear($("results")); $("chart").classList.add("hidden"); return; }
  const { dataSchema, rows } = a.resultTable;
  const head = el("tr", {}, dataSchema.columnNames.map((n, i) =>
    el("th", {}, n, el("small", {}, dataSchema.columnDataTypes[i]))));
  const numeric = dataSchema.columnDataTypes.map(isNumber);
  const shown = rows.slice(0, 1000);
  const fractional = dataSchema.columnDataTypes.map((t) => t === "DOUBLE" || t === "FLOAT");
  // Binary floating point's last digit of noise (879.8500000000001) is not the answer's.
  const cell = (v, i) => (typeof v === "object" && v !== null ? JSON.stringify(v)
    : fractional[i] && typeof v === "number" ? String(Number(v.toPrecision(15))) : String(v));
  const body = shown.map((r) => el("tr", {}, r.map((v, i) => el("td", { class: numeric[i] ? "num" : "" }, cell(v, i)))));
  const note = rows.length > shown.length ? el("p", { class: "muted" }, `Showing ${shown.length} of ${rows.length} rows.`) : null;
  clear($("results"), note, el("table", { class: "grid", id: "result-table" }, el("thead", {}, head), el("tbody", {}, body)));
  if (mode === "chart") showChart(); else $("chart").classList.add("hidden");
}

const NUMBER_TYPES = ["INT", "LONG", "FLOAT", "DOUBLE", "BIG_DECIMAL", "TIMESTAMP"];
const isNumber = (t) => NUMBER_TYPES.includes(t);
const TIME_NAME = /(^|_)(ts|time|timestamp|date|day|hour|minute|second|epoch|bucket|week|month)s?($|_)|time|date/i;

/** Seconds since the epoch for uPlot's time axis, or null when `v` is not a point in time. */
function asSeconds(v, type) {
  if (type === "TIMESTAMP") { const t = Date.parse(String(v).replace(" ", "T") + (/Z|[+-]\d\d:?\d\d$/.test(v) ? "" : "Z")); return isNaN(t) ? null : t / 1000; }
  const n = Number(v);
  if (!isFinite(n)) return null;
  if (n > 1e11) return n / 1000; // epoch milliseconds
  if (n > 1e8) return n; // epoch seconds
  return null;
}

/** A line for a time (or ordered number) first column, bars for labels; numbers after. */
function chartShape(a) {
  const { dataSchema, rows } = a.resultTable;
  const types = dataSchema.columnDataTypes;
  const series = types.map((t, i) => i).filter((i) => i > 0 && isNumber(types[i]));
  if (!rows.length || !series.length) return { reason: "A chart needs a first column to plot along and at least one number column after it." };
  const first = types[0];
  const timeLike = first === "TIMESTAMP" || (isNumber(first) && TIME_NAME.test(dataSchema.columnNames[0]));
  if (isNumber(first) || timeLike) {
    const seconds = timeLike ? rows.map((r) => asSeconds(r[0], first)) : null;
    const useTime = seconds && seconds.every((s) => s !== null);
    const picked = pick(series, dataSchema.columnNames, true);
    const points = rows.map((r, k) => [useTime ? seconds[k] : Number(r[0]), ...picked.map((i) => Number(r[i]))]);
    points.sort((x, y) => x[0] - y[0]);
    return { kind: "line", time: useTime, series: picked, points };
  }
  // Bars of one column at a time: several series of different scales would hide each other.
  const picked = pick(series, dataSchema.columnNames, false);
  const labelled = rows.slice(0, 60);
  return { kind: "bar", series: picked, labels: labelled.map((r) => String(r[0])), points: labelled.map((r, k) => [k, ...picked.map((i) => Number(r[i]))]), cut: rows.length - labelled.length };
}

/** The number columns to plot, as the series picker says (offered: every one, or all of them for lines). */
function pick(series, names, allowAll) {
  const select = $("chart-series");
  const choices = [...(allowAll && series.length > 1 ? [["all", "all columns"]] : []), ...series.map((i) => [String(i), names[i]])];
  const previous = select.value;
  clear(select, choices.map(([value, label]) => el("option", { value }, label)));
  select.value = choices.some(([v]) => v === previous) ? previous : choices[0][0];
  $("chart-series-label").classList.toggle("hidden", choices.length < 2);
  return select.value === "all" ? series : [Number(select.value)];
}

const PALETTE = ["#7b1e3a", "#2f6fba", "#1a7f37", "#b35c00", "#6e40c9", "#0f766e"];
let plot = null;

function showChart() {
  const box = $("chart");
  box.classList.remove("hidden");
  if (plot) { plot.destroy(); plot = null; }
  clear(box);
  $("chart-series-label").classList.add("hidden");
  if (!lastResult || !lastResult.resultTable) { box.append(el("p", { class: "muted" }, "Run a query to chart its answer.")); return; }
  if (typeof uPlot === "undefined") { box.append(errorBox("The chart library did not load.")); return; }
  const shape = chartShape(lastResult);
  if (shape.reason) { box.append(el("p", { class: "muted" }, shape.reason)); return; }
  const names = lastResult.resultTable.dataSchema.columnNames;
  const data = [shape.points.map((p) => p[0]), ...shape.series.map((_, j) => shape.points.map((p) => p[j + 1]))];
  const width = Math.max(400, box.clientWidth - 20);
  const bars = shape.kind === "bar" ? uPlot.paths.bars({ size: [0.7, 80] }) : null;
  const series = [{ label: names[0] }, ...shape.series.map((i, j) => ({
    label: names[i], stroke: PALETTE[j % PALETTE.length], width: 2,
    fill: bars ? PALETTE[j % PALETTE.length] + "cc" : undefined, paths: bars || undefined, points: { show: !bars && data[0].length < 80 },
  }))];
  const options = {
    width, height: 300, series,
    // Bars start at zero, so their heights compare.
    scales: bars
      ? { x: { time: false, range: [-0.6, data[0].length - 0.4] }, y: { range: (u, min, max) => [Math.min(0, min), Math.max(0, max) * 1.05 || 1] } }
      : { x: { time: shape.time } },
    axes: bars
      ? [{ splits: () => data[0], values: (u, splits) => splits.map((k) => (shape.labels[k] || "").slice(0, 14)), rotate: -30, size: 70 }, {}]
      : [shape.time ? {} : { values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")) }, {}],
    legend: { live: !bars },
  };
  plot = new uPlot(options, data, box);
  box.dataset.kind = shape.kind;
  if (shape.cut > 0) box.append(el("p", { class: "muted" }, `The first 60 of ${shape.labels.length + shape.cut} groups.`));
}

function setMode(next) {
  mode = next;
  for (const b of document.querySelectorAll("#result-mode button")) b.classList.toggle("on", b.dataset.mode === mode);
  if (mode === "chart") showChart(); else { $("chart").classList.add("hidden"); $("chart-series-label").classList.add("hidden"); if (plot) { plot.destroy(); plot = null; } }
}

// ---------------------------------------------------------------- tables, schemas, segments

/** Which filters each index answers, as the scan uses them. */
const INDEX_ANSWERS = {
  dictionary: "value ids: filters and IN run on ids",
  "forward.ids": "row → value id",
  "forward.mv_ids": "row → value ids (multi-value)",
  "forward.raw": "row → value (no dictionary)",
  inverted: "= and IN as bitmaps",
  sorted: "= IN < > BETWEEN as doc ranges",
  range: "< > BETWEEN as bitmaps",
  bloom: "prunes the segment for = it cannot hold",
  nulls: "IS NULL / IS NOT NULL",
};

async function showTables(selected) {
  const list = $("table-list");
  let names = [];
  try {
    names = (await api("GET", "/tables")).tables.sort();
  } catch (e) {
    clear($("table-detail"), errorBox(e));
    return;
  }
  clear(list, names.length ? names.map((n) =>
    el("li", { class: n === selected ? "on" : "", onclick: () => { location.hash = `tables/${enc(n)}`; } }, n))
    : el("li", { class: "muted" }, "No tables yet."));
  if (!selected) { clear($("table-detail"), el("p", { class: "muted" }, names.length ? "Pick a table." : "No tables: create one from a topic (Topics) or POST /schemas and /tables.")); return; }
  const detail = $("table-detail");
  clear(detail, el("p", { class: "status loading" }, `Loading ${selected}…`));
  const [table, segment] = selected.split("/");
  try {
    const [config, schema, segments] = await Promise.all([
      api("GET", `/tables/${enc(table)}`), api("GET", `/tables/${enc(table)}/schema`), api("GET", `/segments/${enc(table)}/metadata`),
    ]);
    renderTable(detail, table, config, schema, segments.segments, segment);
  } catch (e) {
    clear(detail, errorBox(e));
  }
}

function renderTable(detail, table, wrapped, schema, segments, openSegment) {
  const kind = Object.keys(wrapped)[0];
  const config = wrapped[kind];
  const ic = config.tableIndexConfig || {};
  const indexed = (key) => new Set(ic[key] || []);
  const inverted = indexed("invertedIndexColumns"), range = indexed("rangeIndexColumns"), bloom = indexed("bloomFilterColumns"),
    noDict = indexed("noDictionaryColumns"), sorted = indexed("sortedColumn"), json = indexed("jsonIndexColumns");
  const bytes = {};
  for (const s of segments) for (const c of s.columns || []) {
    const b = (bytes[c.name] = bytes[c.name] || {});
    for (const [k, v] of Object.entries(c.indexes)) b[k] = (b[k] || 0) + v;
  }
  const fields = [
    ...(schema.dimensionFieldSpecs || []).map((f) => ({ ...f, role: "dimension" })),
    ...(schema.metricFieldSpecs || []).map((f) => ({ ...f, role: "metric" })),
    ...(schema.dateTimeFieldSpecs || []).map((f) => ({ ...f, role: "date time" })),
    ...(schema.timeFieldSpec ? [{ ...schema.timeFieldSpec.incomingGranularitySpec, role: "time" }] : []),
  ];
  const docs = segments.reduce((n, s) => n + (s.totalDocs || 0), 0);
  const size = segments.reduce((n, s) => n + (s.sizeBytes || 0), 0);
  const columnRows = fields.map((f) => {
    const b = bytes[f.name] || {};
    const indexes = [
      sorted.has(f.name) ? "sorted" : null, inverted.has(f.name) ? "inverted" : null, range.has(f.name) ? "range" : null,
      bloom.has(f.name) ? "bloom" : null, json.has(f.name) ? "json" : null, noDict.has(f.name) ? "raw" : "dictionary",
    ].filter(Boolean);
    return el("tr", {}, el("td", {}, f.name), el("td", {}, f.dataType + (f.singleValueField === false ? " []" : "")),
      el("td", {}, f.role), el("td", {}, indexes.map((i) => badge(i))),
      el("td", { class: "num" }, fmtBytes(Object.values(b).reduce((x, y) => x + y, 0))),
      el("td", { class: "muted" }, Object.entries(b).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(" · ")));
  });
  const segmentRows = segments.map((s) => el("tr", { class: s.columns ? "clickable" : "", onclick: s.columns ? () => { location.hash = `tables/${enc(table)}/${enc(s.segmentName)}`; } : undefined },
    el("td", {}, s.segmentName), el("td", {}, badge(s.state, s.state === "ONLINE" ? "ok" : s.state === "CONSUMING" ? "warn" : "bad")),
    el("td", { class: "num" }, fmtInt(s.totalDocs)),
    el("td", {}, s.state === "CONSUMING" ? `newest row ${fmtTime(s.latestIngestionMs)}` : s.reason || `${fmtTime(s.startTimeMs)} … ${fmtTime(s.endTimeMs)}`),
    el("td", {}, s.partition === undefined || s.partition === null ? "–" : `p${s.partition}` + (s.startOffset !== undefined && s.startOffset !== null ? ` [${s.startOffset}, ${s.endOffset})` : "")),
    el("td", { class: "num" }, s.sizeBytes === undefined ? "in memory" : fmtBytes(s.sizeBytes))));
  const open = openSegment && segments.find((s) => s.segmentName === openSegment);
  clear(detail,
    el("h2", {}, table, " ", badge(kind)),
    el("p", { class: "muted" }, `${fmtInt(docs)} rows in ${segments.length} segment${segments.length === 1 ? "" : "s"} · ${fmtBytes(size)} sealed on disk`),
    el("div", { class: "toolbar" },
      el("button", { onclick: () => { $("sql").value = `SELECT * FROM ${table} LIMIT 10`; location.hash = "query"; run(false); } }, "Query it"),
      kind === "REALTIME" ? el("button", { onclick: () => { location.hash = "consumers"; } }, "Consumers") : null),
    el("h3", {}, "Columns"),
    el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["column", "type", "role", "indexes", "bytes", "bytes by index"].map((h) => el("th", {}, h)))), el("tbody", {}, columnRows)),
    el("h3", {}, "Segments"),
    segments.length ? el("table", { class: "grid", id: "segment-table" }, el("thead", {}, el("tr", {}, ["segment", "state", "docs", "time range", "partition [offsets)", "size"].map((h) => el("th", {}, h)))), el("tbody", {}, segmentRows))
      : el("p", { class: "muted" }, "No segments yet."),
    open ? renderSegment(open) : null,
    el("details", {}, el("summary", {}, "Table config"), el("pre", { class: "plan" }, JSON.stringify(wrapped, null, 2))),
    el("details", {}, el("summary", {}, "Schema"), el("pre", { class: "plan" }, JSON.stringify(schema, null, 2))));
  if (open) document.getElementById("segment-detail").scrollIntoView({ block: "nearest" });
}

function renderSegment(s) {
  const rows = s.columns.map((c) => el("tr", {},
    el("td", {}, c.name), el("td", {}, c.dataType + (c.singleValue ? "" : " []")),
    el("td", { class: "num" }, fmtInt(c.cardinality)), el("td", {}, c.sorted ? "yes" : ""),
    el("td", {}, c.min === undefined ? "–" : JSON.stringify(c.min)), el("td", {}, c.max === undefined ? "–" : JSON.stringify(c.max)),
    el("td", { class: "num" }, fmtBytes(c.totalBytes)),
    el("td", {}, Object.entries(c.indexes).map(([k, v]) => el("div", { title: INDEX_ANSWERS[k] || "" }, `${k} ${fmtBytes(v)}`, el("span", { class: "muted" }, ` — ${INDEX_ANSWERS[k] || ""}`))))));
  return el("div", { class: "card", id: "segment-detail" },
    el("div", { class: "card-head" }, el("h2", {}, s.segmentName), badge(`format v${s.formatVersion}`)),
    el("p", { class: "muted" }, `${fmtInt(s.totalDocs)} docs · ${fmtBytes(s.sizeBytes)} · ${s.timeColumn || "no time column"} ${fmtTime(s.startTimeMs)} … ${fmtTime(s.endTimeMs)}` + (s.sortedColumn ? ` · sorted by ${s.sortedColumn}` : "")),
    el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["column", "type", "distinct", "sorted", "min", "max", "bytes", "indexes: bytes — what each answers"].map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
}

// ---------------------------------------------------------------- realtime consumers

const lagHistory = new Map();

function sparkline(values) {
  const w = 120, h = 24;
  if (values.length < 2) return el("span", { class: "muted" }, "…");
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => `${(i / (values.length - 1)) * w},${h - 2 - (v / max) * (h - 4)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark"); svg.setAttribute("width", w); svg.setAttribute("height", h);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.append(line);
  return svg;
}

let refreshing = false;
async function refreshConsumers() {
  if (refreshing) return;
  refreshing = true;
  const box = $("consumers");
  try {
    const names = (await api("GET", "/tables")).tables.sort();
    const configs = await Promise.all(names.map((n) => api("GET", `/tables/${enc(n)}`).catch(() => ({}))));
    const realtime = names.filter((n, i) => configs[i].REALTIME);
    if (!realtime.length) { clear(box, el("p", { class: "muted" }, "No REALTIME tables: create one from a topic (Topics).")); return; }
    const reports = await Promise.all(realtime.map((n) => api("GET", `/tables/${enc(n)}/consumingSegmentsInfo`).catch((e) => ({ error: e }))));
    const letters = await Promise.all(realtime.map((n) => api("GET", `/tables/${enc(n)}/deadLetters?limit=10`).catch(() => ({ deadLetters: [] }))));
    if (current !== "consumers") return;
    clear(box, realtime.map((n, i) => consumerCard(n, reports[i], letters[i].deadLetters || [])));
  } catch (e) {
    clear(box, errorBox(e));
  } finally {
    refreshing = false;
  }
}

async function control(table, action) {
  try {
    await api("POST", `/tables/${enc(table)}/${action}`);
  } catch (e) {
    alert(`${action} ${table}: ${e.message}`);
  }
  refreshConsumers();
}

function consumerCard(table, report, letters) {
  if (report.error) return el("div", { class: "card" }, el("h2", {}, table), errorBox(report.error));
  const now = Date.now();
  const rows = report.partitions.map((p) => {
    const history = (key, value) => {
      const series = lagHistory.get(key) || [];
      series.push(value || 0);
      if (series.length > 60) series.shift();
      lagHistory.set(key, series);
      return series;
    };
    const series = history(`${table}/${p.partition}/records`, p.recordsLag);
    const freshness = history(`${table}/${p.partition}/ms`, p.availabilityLagMs);
    const state = p.state;
    return el("tr", { "data-partition": p.partition },
      el("td", {}, `p${p.partition}`),
      el("td", {}, badge(state, state === "CONSUMING" ? "ok" : state === "PAUSED" || state === "STARTING" ? "warn" : "bad")),
      el("td", { class: "num" }, fmtInt(p.currentOffset)), el("td", { class: "num" }, fmtInt(p.latestOffset)),
      el("td", { class: "num lag" }, fmtInt(p.recordsLag)), el("td", {}, sparkline(series)),
      el("td", { class: "num" }, fmtAgo(p.availabilityLagMs), " ", sparkline(freshness)),
      el("td", { class: "num" }, p.lastIngestTimeMs ? fmtAgo(Math.max(0, now - p.lastIngestTimeMs)) + " ago" : "–"),
      el("td", { class: "num" }, fmtInt(p.rowsIndexed)), el("td", { class: "num" }, fmtInt(p.rowsInConsumingSegment)),
      el("td", { class: "num" }, fmtInt(p.segmentsPublished)), el("td", { class: "num" }, fmtInt(p.deadLetters)),
      el("td", { class: "muted" }, p.lastError || ""));
  });
  const letterRows = letters.map((d) => {
    let payload = "";
    try { payload = atob(d.payloadBase64 || ""); } catch (_) { payload = "(binary)"; }
    return el("tr", {}, el("td", {}, `p${d.partition}`), el("td", { class: "num" }, d.offset), el("td", {}, d.reason),
      el("td", {}, el("code", {}, payload.slice(0, 160))));
  });
  return el("div", { class: "card", "data-table": table },
    el("div", { class: "card-head" },
      el("h2", {}, table, " ", el("span", { class: "muted" }, `← topic ${report.topic}`)),
      report.paused ? badge("paused", "warn") : badge("consuming", "ok"),
      el("button", { class: "pause", disabled: report.paused, onclick: () => control(table, "pauseConsumption") }, "Pause"),
      el("button", { class: "resume", disabled: !report.paused, onclick: () => control(table, "resumeConsumption") }, "Resume"),
      el("button", { class: "commit", onclick: () => control(table, "forceCommit") }, "Force commit")),
    report.topicError ? errorBox(report.topicError) : null,
    el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, ["partition", "state", "offset", "latest", "lag (records)", "records lag, last 2 min", "time lag (freshness), last 2 min", "newest row", "rows", "consuming rows", "sealed", "dead letters", "last error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    letters.length ? el("details", {}, el("summary", {}, `Dead letters (newest ${letters.length})`),
      el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["partition", "offset", "reason", "message"].map((h) => el("th", {}, h)))), el("tbody", {}, letterRows))) : null);
}

// ---------------------------------------------------------------- topics: a table from a topic

async function showTopics(selected) {
  const list = $("topic-list");
  const detail = $("topic-detail");
  let topics;
  try {
    topics = (await api("GET", "/topics")).topics;
  } catch (e) {
    clear(list);
    clear(detail, errorBox(e));
    return;
  }
  clear(list, topics.length ? topics.map((t) => el("li", { class: t.topic === selected ? "on" : "", onclick: () => { location.hash = `topics/${enc(t.topic)}`; } },
    t.topic, el("small", {}, `${fmtInt(t.messages)} msgs` + (t.ratePerSecond === null || t.ratePerSecond === undefined ? "" : ` · ${t.ratePerSecond}/s`)))) : el("li", { class: "muted" }, "No topics."));
  if (!selected) return;
  const topic = topics.find((t) => t.topic === selected);
  clear(detail, el("p", { class: "status loading" }, `Sampling ${selected}…`));
  try {
    const proposal = await api("POST", `/topics/${enc(selected)}/infer`, {});
    renderProposal(detail, topic, proposal);
  } catch (e) {
    clear(detail, el("h2", {}, selected), errorBox(e));
  }
}

function renderProposal(detail, topic, proposal) {
  const schemaText = el("textarea", { class: "json", id: "infer-schema", spellcheck: "false" });
  schemaText.value = JSON.stringify(proposal.schema, null, 2);
  const configText = el("textarea", { class: "json", id: "infer-config", spellcheck: "false" });
  configText.value = JSON.stringify(proposal.tableConfig, null, 2);
  const outcome = el("div", { id: "infer-outcome" });
  const create = async () => {
    try {
      await api("POST", "/schemas", schemaText.value);
      await api("POST", "/tables", configText.value);
      const name = JSON.parse(configText.value).tableName.replace(/_(REALTIME|OFFLINE)$/, "");
      location.hash = `tables/${enc(name)}`;
    } catch (e) {
      clear(outcome, errorBox(e));
    }
  };
  const partitions = (topic && topic.partitions) || [];
  clear(detail,
    el("h2", {}, proposal.tableConfig.tableName.replace(/_REALTIME$/, ""), " ", el("span", { class: "muted" }, `from topic ${proposal.topic}`)),
    el("p", { class: "muted" }, `${partitions.length} partition${partitions.length === 1 ? "" : "s"} · sampled ${proposal.sample.messages} ${proposal.sample.format} messages` + (proposal.sample.skipped ? ` (${proposal.sample.skipped} could not be read)` : "")),
    el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["column", "type", "role", "seen in", "distinct in sample", "why"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (proposal.columns || []).map((c) => el("tr", {}, el("td", {}, c.name), el("td", {}, c.dataType + (c.multiValue ? " []" : "")),
        el("td", {}, c.role), el("td", { class: "num" }, `${Math.round(c.presence * 100)} %`), el("td", { class: "num" }, fmtInt(c.distinct)), el("td", { class: "muted" }, c.why || ""))))),
    el("div", { class: "row" }, el("div", {}, el("h3", {}, "Schema"), schemaText), el("div", {}, el("h3", {}, "Table config"), configText)),
    el("div", { class: "toolbar" }, el("button", { class: "primary", id: "create-table", onclick: create }, "Create table and start consuming")),
    outcome);
}

// ---------------------------------------------------------------- servers and running queries

async function refreshServers() {
  try {
    const [routing, running] = await Promise.all([api("GET", "/debug/routing"), api("GET", "/queries")]);
    if (current !== "servers") return;
    const servers = routing.servers || [];
    clear($("servers"), el("p", { class: "muted" }, `mode: ${routing.mode || "cluster"}`),
      el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["server", "health", "tables / segments"].map((h) => el("th", {}, h)))),
        el("tbody", {}, servers.map((s) => el("tr", {}, el("td", {}, s.server || s.address || "?"),
          el("td", {}, badge(s.healthy === false ? "unhealthy" : "healthy", s.healthy === false ? "bad" : "ok")),
          el("td", {}, el("code", {}, JSON.stringify(s.tables || s.segments || {}))))))));
    const rows = running.queries.map((q) => el("tr", {}, el("td", {}, q.id), el("td", {}, q.door), el("td", {}, q.user),
      el("td", {}, el("code", {}, q.sql)), el("td", { class: "num" }, `${fmtInt(q.elapsedMs)} ms`),
      el("td", {}, el("button", { class: "danger", onclick: () => api("DELETE", `/query/${enc(q.id)}`).then(refreshServers, (e) => alert(e.message)) }, "Cancel"))));
    clear($("running"), rows.length ? el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["id", "door", "user", "SQL", "elapsed", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, "No query is running."));
  } catch (e) {
    clear($("servers"), errorBox(e));
  }
}

// ---------------------------------------------------------------- start

function start() {
  const sql = $("sql");
  sql.value = history()[0] || "";
  sql.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(false); }
  });
  $("run").addEventListener("click", () => run(false));
  $("explain").addEventListener("click", () => run(true));
  $("chart-series").addEventListener("change", () => { if (mode === "chart") showChart(); });
  for (const b of document.querySelectorAll("#result-mode button")) b.addEventListener("click", () => setMode(b.dataset.mode));
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => { if (mode === "chart" && current === "query") showChart(); });
  showHistory();
  route();
  health();
  setInterval(health, 5000);
  if (!sql.value) {
    api("GET", "/tables").then((t) => { if (!sql.value && t.tables.length) sql.value = `SELECT * FROM ${t.tables.sort()[0]} LIMIT 10`; }, () => {});
  }
}

document.addEventListener("DOMContentLoaded", start);

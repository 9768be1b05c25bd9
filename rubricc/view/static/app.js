// rubricc view: one page over score outputs, a compare of two, training runs and probe reports.
// Data comes from the server (remoteApi) or, in an exported report, from the file (localApi).
"use strict";

const api = window.RUBRICC_DATA ? localApi(window.RUBRICC_DATA) : remoteApi();
const $ = (sel, root = document) => root.querySelector(sel);
let SOURCES = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

const fmt = (x) => (x === null || x === undefined ? "–" : Number.isInteger(x) ? String(x) : x.toFixed(3));

// ---- cells ---------------------------------------------------------------------------------------

// An item's cell: its value coloured from red (0) to green (1); a status other than ok in its words.
function itemCell(name) {
  return (cell) => {
    const row = cell.getRow().getData(), st = row.status[name], v = row[name];
    const node = cell.getElement();
    node.className = node.className.replace(/\bst-\S+/g, "");
    if (st === undefined) return "";
    node.classList.add("st-" + st);
    if (st !== "ok") return st;
    node.style.background = `hsl(${Math.round(120 * Math.max(0, Math.min(1, v)))}, 65%, 85%)`;
    return fmt(v);
  };
}

function rewardCell(cell) {
  const v = cell.getValue();
  if (v === null || v === undefined) { cell.getElement().classList.add("st-error"); return "none"; }
  return fmt(v);
}

// ---- rendering text: markdown, LaTeX, think blocks ------------------------------------------------

// Elements that would fetch something: a response's image is text here, not a request (the page
// reaches no network, and a model's output should not make it).
const FETCHING = ["img", "picture", "source", "video", "audio", "track", "iframe", "object", "embed", "link", "style"];

// Math is taken out before markdown (which would eat the backslashes of `\(` and `\[`), and put
// back as KaTeX's HTML after the markdown is sanitised: a response is untrusted text.
const MATH = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$([^$\n]+?)\$/g;

function boxed(text, keep) {
  let out = "", i = 0;
  for (let at = text.indexOf("\\boxed{"); at >= 0; at = text.indexOf("\\boxed{", i)) {
    let depth = 0, end = at + 6;
    for (; end < text.length; end++) {
      if (text[end] === "{") depth++;
      else if (text[end] === "}" && --depth === 0) break;
    }
    if (end >= text.length) break;  // unbalanced: left as text
    out += text.slice(i, at) + keep(text.slice(at, end + 1), false);
    i = end + 1;
  }
  return out + text.slice(i);
}

// HTML in a response is shown as the text it is (`<answer>7</answer>` is part of what was scored),
// never rendered.
const escapeHtml = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
marked.use({renderer: {html: (token) => escapeHtml(token.text ?? token.raw ?? "")}});

function markdownWithMath(text) {
  const spans = [];
  const keep = (tex, display) => { spans.push({tex, display}); return `@@MATH${spans.length - 1}@@`; };
  const taken = boxed(String(text).replace(MATH, (m, a, b, c, d) => keep(a ?? b ?? c ?? d, a !== undefined || b !== undefined)), keep);
  return DOMPurify.sanitize(marked.parse(taken), {FORBID_TAGS: FETCHING}).replace(/@@MATH(\d+)@@/g, (m, i) =>
    katex.renderToString(spans[+i].tex, {displayMode: spans[+i].display, throwOnError: false}));
}

function rendered(text) {
  const box = el("div", {class: "rendered"});
  // each <think> block collapses
  for (const part of String(text).split(/(<think>[\s\S]*?(?:<\/think>|$))/)) {
    if (!part) continue;
    const think = part.match(/^<think>([\s\S]*?)(?:<\/think>)?$/);
    const body = el("div");
    body.innerHTML = markdownWithMath(think ? think[1] : part);
    box.append(think ? el("details", {class: "think"}, el("summary", {}, "think"), body) : body);
  }
  return box;
}

// ---- the rows of one output --------------------------------------------------------------------

function filterBar(items, onChange, withChanged) {
  const bar = el("form", {class: "filters", onsubmit: (e) => e.preventDefault()});
  // reload only when the query changed: leaving the text box fires `change` after its typing did
  let last = "";
  const changed = () => {
    const now = JSON.stringify(queryOf(bar));
    if (now !== last) { last = now; onChange(); }
  };
  const field = (name, node) => { node.name = name; node.addEventListener("change", changed); return node; };
  const options = (list) => list.map(([v, label]) => el("option", {value: v}, label));
  bar.append(
    el("label", {}, "item ", field("item", el("select", {}, ...options([["", "any item"], ...items.map((i) => [i, i])])))),
    el("label", {}, "is ", field("status", el("select", {}, ...options([["", "any state"], ["failed", "failed (< 1)"], ["passed", "passed (1)"],
      ["ok", "ok"], ["skipped", "skipped"], ["na", "na"], ["error", "error"], ["timeout", "timeout"]])))),
    el("label", {}, "value ", field("value_min", el("input", {type: "number", step: "any", placeholder: "min"})),
      " – ", field("value_max", el("input", {type: "number", step: "any", placeholder: "max"}))),
    el("label", {}, "reward ", field("reward", el("select", {}, ...options([["any", "any"], ["scored", "scored"], ["none", "none"]])))),
    el("label", {}, "from ", field("reward_min", el("input", {type: "number", step: "any", size: 5}))),
    el("label", {}, "to ", field("reward_max", el("input", {type: "number", step: "any", size: 5}))),
    el("label", {}, "text ", field("text", el("input", {type: "search", placeholder: "in prompt or response", size: 24}))),
    el("label", {}, field("regex", el("input", {type: "checkbox"})), " regex"),
    el("label", {}, "in ", field("field", el("select", {}, ...options([["both", "both"], ["prompt", "prompt"], ["response", "response"]])))),
  );
  if (withChanged) bar.append(el("label", {}, field("changed", el("input", {type: "checkbox", checked: ""})), " only changed rewards"));
  let timer;
  $("input[name=text]", bar).addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(changed, 250); });
  last = JSON.stringify(queryOf(bar));
  return bar;
}

function queryOf(bar) {
  const q = {};
  for (const node of bar.elements) {
    if (!node.name) continue;
    const v = node.type === "checkbox" ? (node.checked ? "1" : "") : node.value;
    if (v !== "") q[node.name] = v;
  }
  return q;
}

function rowsTable(holder, source, items, extraColumns, params, onRow, onCount) {
  const columns = [
    {title: "row", field: "row", width: 70, hozAlign: "right"},
    ...extraColumns,
    ...items.map((name) => ({title: name, field: name, formatter: itemCell(name), hozAlign: "right", minWidth: 80})),
    {title: "prompt", field: "prompt", minWidth: 180, widthGrow: 2, headerSort: false, tooltip: false},
    {title: "response", field: "response", minWidth: 240, widthGrow: 3, headerSort: false},
  ];
  const table = new Tabulator(holder, {
    layout: "fitColumns", height: "460px", columns, index: "row", columnDefaults: {resizable: "header", headerTooltip: true},
    pagination: true, paginationMode: "remote", paginationSize: 50, paginationSizeSelector: [25, 50, 100, 250],
    sortMode: "remote", ajaxURL: "rows",
    ajaxRequestFunc: async (url, config, tab) => {
      const sort = (tab.sort || [])[0];
      const p = Object.assign({}, params(), {source, page: tab.page || 1, size: tab.size || 50});
      if (sort) { p.sort = sort.field; p.desc = sort.dir === "desc" ? "1" : ""; }
      try {
        answer = await api.rows(p);
      } catch (e) { answer = {error: e.message}; }
      return answer.error ? {last_page: 1, data: []} : answer;
    },
  });
  let answer = null;
  table.on("dataProcessed", () => answer && onCount(answer));  // the count once the rows are drawn
  table.on("rowClick", (e, row) => onRow(row.getData().row));
  return table;
}

function countLine(node) {
  return (answer) => {
    node.className = answer.error ? "count error" : "count";
    node.textContent = answer.error ? answer.error : `${answer.total.toLocaleString()} of ${answer.of.toLocaleString()} rows`;
  };
}

function summaryTable(summary) {
  const head = ["item", "mean", "passed", "failed", "skipped", "na", "error", "timeout"];
  return el("table", {class: "summary"},
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...summary.map((s) => el("tr", {}, ...head.map((h) => el("td", {}, h === "item" ? s.item : fmt(s[h])))))));
}

async function rowView(source, row) {
  const r = await api.row({source, row});
  const line = r.line, criteria = line.criteria || {};
  const own = new Set(["reward", "items", "status", "criteria", "error"]);
  const columns = Object.fromEntries(Object.entries(line).filter(([k]) => !own.has(k)));
  const box = el("section", {class: "row-view", "data-row": String(r.row)},
    el("h3", {}, `${source} · row ${r.row} · reward ${fmt(line.reward)}`),
    line.error ? el("p", {class: "error"}, line.error) : "",
    el("h4", {}, "prompt"), rendered(r.prompt),
    el("h4", {}, "response"), rendered(r.response),
    el("h4", {}, "explain"), el("pre", {class: "explain"}, r.explain));
  for (const [item, list] of Object.entries(criteria)) {
    box.append(el("h4", {}, `criteria of ${item}`), el("table", {class: "criteria"},
      el("thead", {}, el("tr", {}, el("th", {}, "criterion"), el("th", {}, "weight"), el("th", {}, "P(yes)"), el("th", {}, "status"))),
      el("tbody", {}, ...list.map((c) => el("tr", {}, el("td", {}, c.text), el("td", {}, fmt(c.weight)),
        el("td", {}, fmt(c.verdict)), el("td", {class: "st-" + c.status}, c.error ? `${c.status}: ${c.error}` : c.status))))));
  }
  const cost = Object.entries(columns).filter(([k]) => /cost|tokens/.test(k));
  if (cost.length) box.append(el("h4", {}, "cost"), el("pre", {}, cost.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n")));
  box.append(el("details", {}, el("summary", {}, "every column"), el("pre", {}, JSON.stringify(columns, null, 2))));
  return box;
}

function outputView(s) {
  const bar = filterBar(s.items, () => table.setData(), false);
  const count = el("p", {class: "count"});
  const holder = el("div", {class: "rows"});
  const detail = el("div", {class: "detail"});
  const prov = s.provenance ? `rubric ${s.provenance.rubric}${s.provenance.version ? " " + s.provenance.version : ""}, sha256 ${s.provenance.sha256.slice(0, 16)}` : "no provenance file";
  const view = el("div", {class: "output"},
    el("p", {class: "note"}, `${s.path} · ${s.rows.toLocaleString()} rows · ${prov}${s.rubric_note ? " · " + s.rubric_note : ""}`),
    summaryTable(s.summary), bar, count, holder, detail);
  const table = rowsTable(holder, s.name, s.items, [{title: "reward", field: "reward", formatter: rewardCell, hozAlign: "right", width: 90}],
    () => queryOf(bar), async (row) => { detail.replaceChildren(await rowView(s.name, row)); detail.scrollIntoView(); }, countLine(count));
  return view;
}

// ---- compare two outputs -------------------------------------------------------------------------

function compareView(outputs) {
  const pick = (name, chosen) => el("select", {name}, ...outputs.map((o) => el("option", chosen === o.name ? {value: o.name, selected: ""} : {value: o.name}, o.name)));
  const a = pick("a", outputs[0].name), b = pick("b", outputs[1].name);
  const summary = el("div", {class: "compare-summary"});
  const holder = el("div");
  const view = el("div", {class: "compare"}, el("p", {}, "A ", a, " B ", b), summary, holder);
  const show = async () => {
    holder.replaceChildren();
    summary.replaceChildren();
    let c;
    try { c = await api.compare({a: a.value, b: b.value}); } catch (e) { summary.append(el("p", {class: "error"}, e.message)); return; }
    summary.append(
      el("p", {}, `${c.rows.toLocaleString()} rows; reward changed in ${c.changed.toLocaleString()}; mean reward ${fmt(c.mean_a)} → ${fmt(c.mean_b)}` +
        (c.mismatched_rows ? `; ${c.mismatched_rows} rows differ in prompt or response: these may not be outputs of the same data` : "")),
      el("table", {class: "summary agreement"},
        el("thead", {}, el("tr", {}, ...["item", "rows", "agree", "mean A", "mean B"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...c.items.map((i) => el("tr", {}, el("td", {}, i.item), el("td", {}, fmt(i.rows)),
          el("td", {}, i.agree === null ? "–" : (100 * i.agree).toFixed(1) + "%"), el("td", {}, fmt(i.mean_a)), el("td", {}, fmt(i.mean_b)))))),
      c.only_a.length || c.only_b.length ? el("p", {class: "note"}, `only in A: ${c.only_a.join(", ") || "–"}; only in B: ${c.only_b.join(", ") || "–"}`) : "");
    const outA = outputs.find((o) => o.name === a.value);
    const bar = filterBar(outA.items, () => table.setData(), true);
    const count = el("p", {class: "count"});
    const rows = el("div", {class: "rows"});
    const detail = el("div", {class: "detail pair"});
    holder.append(bar, count, rows, detail);
    const table = rowsTable(rows, a.value, outA.items, [
      {title: "reward A", field: "reward", formatter: rewardCell, hozAlign: "right", width: 95},
      {title: "reward B", field: "reward_b", formatter: rewardCell, hozAlign: "right", width: 95},
      {title: "change", field: "delta", hozAlign: "right", width: 90, formatter: (cell) => {
        const v = cell.getValue(); if (v) cell.getElement().classList.add(v > 0 ? "up" : "down"); return fmt(v); }},
    ], () => Object.assign(queryOf(bar), {against: b.value}), async (row) => {
      detail.replaceChildren(await rowView(a.value, row), await rowView(b.value, row));
      detail.scrollIntoView();
    }, countLine(count));
  };
  a.addEventListener("change", show);
  b.addEventListener("change", show);
  show();
  return view;
}

// ---- a training run --------------------------------------------------------------------------------

function runView(s) {
  const view = el("div", {class: "run"}, el("p", {class: "note"}, `${s.path} · ${s.steps.length} logged steps`));
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  for (const panel of s.panels) {
    const box = el("figure", {class: "chart", "data-panel": panel.title}, el("figcaption", {}, panel.title));
    view.append(box);
    const data = [s.steps, ...panel.keys.map((k) => s.series[k])];
    const opts = {width: 560, height: 240, scales: {x: {time: false}},
      axes: [{incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]}, {}],
      series: [{label: "step"}, ...panel.keys.map((k, i) => ({label: k, stroke: palette[i % palette.length], width: 1.5, spanGaps: true}))]};
    requestAnimationFrame(() => { box.plot = new uPlot(opts, data, box); });
  }
  if (!s.panels.length) view.append(el("p", {}, "no curves in metrics.jsonl yet"));
  return view;
}

// ---- a probe report --------------------------------------------------------------------------------

function probesView(s) {
  const view = el("div", {class: "probes"}, el("p", {class: "note"}, s.path));
  for (const r of s.rubrics) {
    const hacked = r.probes.filter((p) => p.hacked).length;
    view.append(el("h3", {}, `${r.rubric}: ${hacked} of ${r.probes.length} probes paid${r.skipped ? " (skipped: " + r.skipped + ")" : ""}`));
    const holder = el("div");
    view.append(holder);
    new Tabulator(holder, {layout: "fitColumns", data: r.probes, columns: [
      {title: "code", field: "code", width: 80}, {title: "probe", field: "name", width: 170}, {title: "family", field: "family", width: 120},
      {title: "verdict", field: "hacked", width: 100, formatter: (cell) => {
        const node = cell.getElement(); node.classList.add(cell.getValue() ? "hacked" : "held");
        return cell.getValue() ? "HACKED" : "held"; }},
      {title: "reward", field: "reward", hozAlign: "right", width: 95, formatter: (c) => fmt(c.getValue())},
      {title: "honest wrong", field: "baseline", hozAlign: "right", width: 150, formatter: (c) => fmt(c.getValue())},
      {title: "limit", field: "limit", hozAlign: "right", width: 70, formatter: (c) => fmt(c.getValue())},
      {title: "response", field: "response", minWidth: 200}, {title: "message", field: "message", minWidth: 160}]});
  }
  return view;
}

// ---- tabs --------------------------------------------------------------------------------------------

const VIEWS = {output: outputView, run: runView, probes: probesView};

function show(key) {
  const tabs = $("#tabs");
  for (const t of tabs.children) t.classList.toggle("active", t.dataset.key === key);
  const outputs = SOURCES.filter((s) => s.kind === "output");
  const source = SOURCES.find((s) => s.name === key);
  $("#main").replaceChildren(key === "\u0000compare" ? compareView(outputs) : VIEWS[source.kind](source));
  location.hash = encodeURIComponent(key);
}

async function start() {
  try {
    SOURCES = (await api.sources()).sources;
  } catch (e) { $("#main").replaceChildren(el("p", {class: "error"}, e.message)); return; }
  const tabs = $("#tabs");
  const label = {output: "rows", run: "run", probes: "probes"};
  for (const s of SOURCES) tabs.append(el("button", {"data-key": s.name, onclick: () => show(s.name)}, `${label[s.kind]}: ${s.name}`));
  if (SOURCES.filter((s) => s.kind === "output").length >= 2) tabs.append(el("button", {"data-key": "\u0000compare", onclick: () => show("\u0000compare")}, "compare"));
  const wanted = decodeURIComponent(location.hash.slice(1));
  show([...tabs.children].some((t) => t.dataset.key === wanted) ? wanted : tabs.children[0].dataset.key);
}

start();

// The viewer's questions, answered in the page: what an exported report (`rubricc view --export`)
// runs instead of asking the server. It mirrors rubricc/view/table.py's Query and compare, over the
// rows embedded in the file; tests/test_view.py checks both give the same rows.
"use strict";

const STATUSES = ["ok", "skipped", "na", "error", "timeout"];

function localApi(data) {
  const outputs = {};
  for (const s of data.sources) if (s.kind === "output") outputs[s.name] = data.rows[s.name];

  function output(name) {
    if (!outputs[name]) throw new Error(`source: no score output ${JSON.stringify(name)}`);
    return outputs[name];
  }

  function paired(a, b) {
    const ra = output(a), rb = output(b);
    if (ra.length !== rb.length) throw new Error(`A has ${ra.length} rows and B ${rb.length}: compare two outputs of the same data`);
    return ra.map((r, i) => {
      const other = rb[i].reward;
      const delta = r.reward === null || other === null ? null : other - r.reward;
      return Object.assign({}, r, {reward_b: other, delta});
    });
  }

  function keeps(r, q) {
    if (q.reward === "none" && r.reward !== null) return false;
    if (q.reward === "scored" && r.reward === null) return false;
    if (q.reward_min !== "" && !(r.reward !== null && r.reward >= +q.reward_min)) return false;
    if (q.reward_max !== "" && !(r.reward !== null && r.reward <= +q.reward_max)) return false;
    if (q.item) {
      const st = r.status[q.item], v = r[q.item];
      if (st === undefined) return false;
      if (q.status === "passed" && !(st === "ok" && v >= 1)) return false;
      if (q.status === "failed" && !(st === "ok" && v < 1)) return false;
      if (STATUSES.includes(q.status) && st !== q.status) return false;
      if (q.value_min !== "" && !(v !== null && v >= +q.value_min)) return false;
      if (q.value_max !== "" && !(v !== null && v <= +q.value_max)) return false;
    }
    if (q.changed) {
      const moved = (r.delta !== null && r.delta !== 0) || ((r.reward === null) !== (r.reward_b === null));
      if (!moved) return false;
    }
    if (q.text) {
      const texts = q.field === "prompt" ? [r.full_prompt] : q.field === "response" ? [r.full_response] : [r.full_prompt, r.full_response];
      if (q.regex) {
        const re = new RegExp(q.text);
        if (!texts.some((t) => re.test(t))) return false;
      } else {
        const needle = q.text.toLowerCase();
        if (!texts.some((t) => t.toLowerCase().includes(needle))) return false;
      }
    }
    return true;
  }

  function select(rows, q) {
    const kept = rows.filter((r) => keeps(r, q));
    if (q.sort && q.sort !== "row") {
      // a row without the value sorts last either way; ties keep the rows' order, as numpy's
      const key = (r) => (r[q.sort] === null || r[q.sort] === undefined ? (q.desc ? -Infinity : Infinity) : r[q.sort]);
      kept.sort((x, y) => (q.desc ? key(y) - key(x) : key(x) - key(y)) || x.row - y.row);
    } else if (q.desc) kept.reverse();
    return kept;
  }

  function short(r) {
    const out = Object.assign({}, r, {prompt: r.full_prompt.slice(0, 200), response: r.full_response.slice(0, 200)});
    delete out.full_prompt; delete out.full_response;
    return out;
  }

  return {
    sources: async () => ({sources: data.sources}),
    rows: async (params) => {
      const q = Object.assign({reward: "any", reward_min: "", reward_max: "", item: "", status: "", value_min: "", value_max: "",
                               text: "", regex: false, field: "both", changed: false, sort: "row", desc: false}, params);
      q.regex = q.regex === true || q.regex === "1"; q.changed = q.changed === true || q.changed === "1"; q.desc = q.desc === true || q.desc === "1";
      const rows = params.against ? paired(params.source, params.against) : output(params.source);
      const kept = select(rows, q);
      const size = +(params.size || 50), pages = Math.max(1, Math.ceil(kept.length / size));
      const page = Math.min(Math.max(1, +(params.page || 1)), pages);
      return {last_page: pages, total: kept.length, of: rows.length, data: kept.slice((page - 1) * size, page * size).map(short)};
    },
    row: async (params) => {
      const i = +params.row - 1, r = output(params.source)[i], d = data.details[params.source][i];
      if (!r) throw new Error(`row ${params.row} is not between 1 and ${output(params.source).length}`);
      return {row: i + 1, line: d.line, prompt: r.full_prompt, response: r.full_response, explain: d.explain};
    },
    compare: async (params) => data.compares[`${params.a}\u0000${params.b}`],
  };
}

function remoteApi() {
  async function get(path, params) {
    const url = path + "?" + new URLSearchParams(params || {}).toString();
    const res = await fetch(url);
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }
  return {
    sources: () => get("api/sources"),
    rows: (params) => get("api/rows", params),
    row: (params) => get("api/row", params),
    compare: (params) => get("api/compare", params),
  };
}

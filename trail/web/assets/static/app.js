// sqlaudit viewer: a little script over server-rendered pages, which work
// without it. It counts what the timeline's filter selects, and shows a
// row as of a record without reloading the page. Values are set with
// textContent only: a value is data, never markup.
"use strict";

function countSelected() {
  for (const el of document.querySelectorAll("[data-count]")) {
    el.textContent = "counting…";
    fetch(el.dataset.count, { headers: { Accept: "application/json" } })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error(body.error || "count failed");
        const rec = body.records === 1 ? "record" : "records";
        const tx = body.transactions === 1 ? "transaction" : "transactions";
        el.textContent = body.transactions.toLocaleString() + " " + tx + ", " + body.records.toLocaleString() + " " + rec;
      })
      .catch((e) => { el.textContent = "count unavailable: " + e.message; });
  }
}

function cell(tag, text, attrs) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

function showAsOf(target, body) {
  const box = cell("div", undefined, { class: "asof-row" });
  const p = cell("p", "After record #" + body.record + ": ");
  p.append(body.exists ? "the row was" : cell("strong", "the row did not exist"));
  box.append(p);
  if (body.exists) {
    const table = cell("table", undefined, { class: "diff" });
    const head = table.createTHead().insertRow();
    head.append(cell("th", "Column", { scope: "col" }), cell("th", "Value", { scope: "col" }));
    const tbody = table.createTBody();
    for (const col of body.columns) { // values as JSON text: numbers keep their digits
      const tr = tbody.insertRow();
      const td = cell("td");
      td.append(cell("span", col.value, { class: "v" }));
      tr.append(cell("th", col.name, { scope: "row" }), td);
    }
    box.append(table);
  }
  target.replaceChildren(box);
}

function asOfRecord() {
  const form = document.getElementById("asof-record");
  const target = document.getElementById("asof-result");
  if (!form || !target) return;
  const select = form.querySelector("select[name=record]");
  const load = () => {
    const q = new URLSearchParams(new FormData(form));
    fetch(form.dataset.api + "?" + q.toString(), { headers: { Accept: "application/json" } })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error(body.error || "as-of failed");
        showAsOf(target, body);
      })
      .catch((e) => target.replaceChildren(cell("p", e.message, { class: "error" })));
  };
  select.addEventListener("change", load);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
}

document.addEventListener("DOMContentLoaded", () => {
  countSelected();
  asOfRecord();
});

/* Keep / Problem / Try board: add, edit, delete notes and make action items without a reload;
   every open board polls the state endpoint with ?since=<version> and redraws on change. */
import { csrfToken, readJson, urlWithId } from "./lib/dom.js";
import { jsonOrFail, poll } from "./lib/live.js";

const copy = document.getElementById("copy-newsletter");
if (copy) {
  copy.addEventListener("click", function () {
    const text = document.getElementById("newsletter-text").textContent;
    const done = function () { document.getElementById("copy-status").textContent = copy.dataset.copied; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });
}
const board = document.getElementById("kpt-board");
if (board) { initBoard(board); }

function initBoard(board) {
  const t = readJson("kpt-i18n");
  let state = readJson("kpt-initial");
  const urls = board.dataset;
  const statusEl = document.getElementById("kpt-status");
  let pending = null;   // a newer state that arrived while someone was editing

  // Elements with attributes (the board sets data-act and the like on each).
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function send(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json"},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { throw new Error(data.message || t.failed); }
        return data;
      });
    });
  }

  function say(message) { statusEl.textContent = message || ""; }

  function isEditing() { return board.querySelector(".kpt-item.editing") !== null; }

  function actionFor(itemId) {
    return (state.actions || []).filter(function (a) { return a.kpt_item_id === itemId; })[0];
  }

  function itemView(item) {
    const li = el("li", {"class": "kpt-item", "data-id": String(item.id)});
    li.appendChild(el("span", {"class": "kpt-text user-text"}, item.text));
    const action = actionFor(item.id);
    if (action) {
      // The owner is what someone typed: marked as user data (class user-text).
      const badge = el("p", {"class": "kpt-action action-" + action.status}, t.action + ": ");
      badge.appendChild(action.owner ? el("span", {"class": "user-text"}, action.owner)
                                     : document.createTextNode(t.no_owner));
      badge.appendChild(document.createTextNode(
        (action.due_date ? " · " + t.by + " " + action.due_date : "") +
        " · " + (t["status_" + action.status] || action.status)));
      li.appendChild(badge);
    }
    const tools = el("div", {"class": "kpt-tools no-print"});
    const edit = el("button", {"type": "button", "class": "button small", "data-act": "edit"}, t.edit);
    const del = el("button", {"type": "button", "class": "button small danger", "data-act": "delete"}, t["delete"]);
    tools.appendChild(edit);
    tools.appendChild(del);
    if (item.kind === "try" && !action) {
      tools.appendChild(el("button", {"type": "button", "class": "button small primary", "data-act": "action"}, t.make_action));
    }
    li.appendChild(tools);
    return li;
  }

  function render(next) {
    if (isEditing()) { pending = next; return; }
    state = next;
    pending = null;
    ["keep", "problem", "try"].forEach(function (kind) {
      const list = document.getElementById("kpt-items-" + kind);
      list.textContent = "";
      state.items.filter(function (i) { return i.kind === kind; }).forEach(function (item) {
        list.appendChild(itemView(item));
      });
    });
  }

  function flushPending() { if (pending && !isEditing()) { render(pending); } }

  function apply(data) { if (data && data.items) { render(data); } }

  board.addEventListener("submit", function (ev) {
    const form = ev.target;
    ev.preventDefault();
    if (form.classList.contains("kpt-add")) {
      const area = form.querySelector("textarea");
      if (!area.value.trim()) { area.focus(); return; }
      send(urls.addUrl, {kind: form.dataset.kind, text: area.value}).then(function (data) {
        area.value = "";
        say("");
        apply(data);
      }).catch(function (e) { say(e.message); });
    } else if (form.classList.contains("kpt-edit")) {
      const li = form.closest(".kpt-item");
      send(urlWithId(urls.editUrl, li.dataset.id), {text: form.querySelector("textarea").value}).then(function (data) {
        li.classList.remove("editing");
        say("");
        apply(data);
      }).catch(function (e) { say(e.message); });
    } else if (form.classList.contains("kpt-make-action")) {
      const item = form.closest(".kpt-item");
      send(urlWithId(urls.actionUrl, item.dataset.id), {
        owner: form.querySelector("[name=owner]").value,
        due_date: form.querySelector("[name=due_date]").value
      }).then(function (data) {
        item.classList.remove("editing");
        say("");
        apply(data);
      }).catch(function (e) { say(e.message); });
    }
  });

  // A quote from the feedback becomes a note with one click; one too long for a note goes
  // into the column's box to be shortened first.
  const quotes = document.getElementById("kpt-quotes");
  if (quotes) {
    quotes.addEventListener("click", function (ev) {
      const button = ev.target.closest("button[data-quote-kind]");
      if (!button) { return; }
      const kind = button.dataset.quoteKind;
      const text = button.closest(".kpt-quote").querySelector(".kpt-quote-text").textContent;
      if (text.length > Number(quotes.dataset.textMax)) {
        const area = document.getElementById("kpt-new-" + kind);
        area.value = text;
        area.focus();
        say(t.quote_too_long);
        return;
      }
      button.disabled = true;
      send(urls.addUrl, {kind: kind, text: text}).then(function (data) {
        say(t.added_from_quote);
        apply(data);
      }).catch(function (e) { say(e.message); }).then(function () { button.disabled = false; });
    });
  }

  board.addEventListener("click", function (ev) {
    const button = ev.target.closest("button[data-act]");
    if (!button) { return; }
    const li = button.closest(".kpt-item");
    const id = li.dataset.id;
    const act = button.dataset.act;
    if (act === "delete") {
      if (!window.confirm(t.confirm_delete)) { return; }
      send(urlWithId(urls.deleteUrl, id)).then(apply).catch(function (e) { say(e.message); });
    } else if (act === "cancel") {
      li.classList.remove("editing");
      render(pending || state);
    } else if (act === "edit" || act === "action") {
      li.classList.add("editing");
      let form;
      if (act === "edit") {
        form = el("form", {"class": "kpt-edit"});
        const area = el("textarea", {"name": "text", "rows": "2", "maxlength": "500", "aria-label": t.edit});
        area.value = li.querySelector(".kpt-text").textContent;
        form.appendChild(area);
        form.appendChild(el("button", {"type": "submit", "class": "button primary"}, t.save));
      } else {
        form = el("form", {"class": "kpt-make-action"});
        const owner = el("label", {}, t.owner);
        owner.appendChild(el("input", {"type": "text", "name": "owner", "maxlength": "100", "required": "required"}));
        const due = el("label", {}, t.due_date);
        due.appendChild(el("input", {"type": "date", "name": "due_date"}));
        form.appendChild(owner);
        form.appendChild(due);
        form.appendChild(el("button", {"type": "submit", "class": "button primary"}, t.create));
      }
      form.appendChild(el("button", {"type": "button", "class": "button", "data-act": "cancel"}, t.cancel));
      li.querySelector(".kpt-tools").replaceWith(form);
      const first = form.querySelector("textarea, input");
      if (first) { first.focus(); }
    }
  });

  render(state);
  poll(() => urls.stateUrl + "?since=" + encodeURIComponent(state.version), (response) =>
    jsonOrFail(response).then((data) => {
      if (data.changed && data.version !== state.version) { render(data); } else { flushPending(); }
    }), {
    intervalMs: 1500,
    onState: (kind) => {
      if (kind === "error") { say(t.offline); } else if (statusEl.textContent === t.offline) { say(""); }
    }
  });
}

/* The field page's outbox: every POST the phone makes goes through this one queue.
 *
 * Items live in localStorage, so they survive a reload, a flat battery's restart of the browser
 * and the server restarting. They are sent strictly in order, one at a time; a network error,
 * a 5xx or a 429 keeps the item at the head and retries with backoff; any other 4xx drops it
 * and reports the server's message (a 400 first refreshes the CSRF token and retries once,
 * because a page left open for hours outlives its token). 401/403 mean the phone is signed out:
 * the item is kept, so nothing is lost, and the user is told to open their link again.
 * Each item carries the client ids the server deduplicates on, so a retry is stored once.
 *
 * Positions are buffered separately and moved into the queue as one batch every ~10 s or when
 * five are waiting; consecutive position batches are merged (up to 100) when sent.
 */
const MAX_BACKOFF_MS = 30000;
const POSITIONS_PER_REQUEST = 100;

function newId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  // Older browsers: 32 hex digits from getRandomValues (still 8–64 chars of [A-Za-z0-9_-]).
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, function (b) {
    return ("0" + b.toString(16)).slice(-2);
  }).join("");
}

/* A tiny persistent list; falls back to memory when storage is unavailable. */
function Store(key) {
  this.key = key;
  this.memory = [];
}
Store.prototype.read = function () {
  try {
    const raw = window.localStorage.getItem(this.key);
    return raw ? JSON.parse(raw) : [];
  } catch (e) {
    return this.memory.slice();
  }
};
Store.prototype.write = function (items) {
  this.memory = items.slice();
  try {
    window.localStorage.setItem(this.key, JSON.stringify(items));
  } catch (e) { /* memory copy kept */ }
};

/**
 * options: storageKey, csrfToken() -> string, refreshCsrf() -> Promise<string>,
 *          onChange(summary), onSent(item, json), onFailed(item, message, status),
 *          onSignedOut(message)
 */
function FieldQueue(options) {
  this.opts = options;
  this.items = new Store(options.storageKey + ".queue");
  this.positions = new Store(options.storageKey + ".positions");
  this.running = false;
  this.failures = 0;
  this.nextAttemptAt = 0;
  this.lastBatchAt = Date.now();
  this.lastError = "";
  const self = this;
  window.addEventListener("online", function () { self.failures = 0; self.nextAttemptAt = 0; self.flush(); });
  window.addEventListener("offline", function () { self.changed(); });
  window.addEventListener("storage", function (ev) {
    if (ev.key && ev.key.indexOf(options.storageKey) === 0) { self.changed(); }
  });
  // Retry every few seconds anyway: onLine can be wrong, and position batches fall due.
  window.setInterval(function () { self.tick(); }, 3000);
}

FieldQueue.prototype.summary = function () {
  const items = this.items.read();
  let actions = 0;
  let positions = this.positions.read().length;
  items.forEach(function (it) {
    if (it.kind === "positions") { positions += it.body.positions.length; } else { actions += 1; }
  });
  return { actions: actions, positions: positions, online: navigator.onLine !== false,
           error: this.lastError };
};

FieldQueue.prototype.changed = function () {
  if (this.opts.onChange) { this.opts.onChange(this.summary()); }
};

/* Things the user did, in the order they did them. */
FieldQueue.prototype.push = function (kind, url, body, meta) {
  const items = this.items.read();
  items.push({ qid: body.client_id || newId(), kind: kind, url: url, body: body,
               meta: meta || {}, queued_at: new Date().toISOString(), csrf_retried: false });
  this.items.write(items);
  this.changed();
  this.flush();
};

FieldQueue.prototype.pending = function (kind) {
  return this.items.read().filter(function (it) { return it.kind === kind; });
};

/* Buffer one position; it joins the queue with the next batch. */
FieldQueue.prototype.addPosition = function (url, position, sendNow) {
  const buf = this.positions.read();
  buf.push({ url: url, p: position });
  this.positions.write(buf);
  if (sendNow || buf.length >= 5) { this.batchPositions(); } else { this.changed(); }
};

FieldQueue.prototype.batchPositions = function () {
  const buf = this.positions.read();
  this.lastBatchAt = Date.now();
  if (!buf.length) { return; }
  const items = this.items.read();
  const byUrl = {};
  const order = [];
  buf.forEach(function (entry) {
    if (!byUrl[entry.url]) { byUrl[entry.url] = []; order.push(entry.url); }
    byUrl[entry.url].push(entry.p);
  });
  order.forEach(function (url) {
    const list = byUrl[url];
    for (let i = 0; i < list.length; i += POSITIONS_PER_REQUEST) {
      items.push({ qid: newId(), kind: "positions", url: url,
                   body: { positions: list.slice(i, i + POSITIONS_PER_REQUEST) },
                   meta: {}, queued_at: new Date().toISOString(), csrf_retried: false });
    }
  });
  // Write the queue first: a crash in between sends a position twice (harmless, it is
  // deduplicated by client_id) rather than losing it.
  this.items.write(items);
  this.positions.write([]);
  this.changed();
  this.flush();
};

FieldQueue.prototype.tick = function () {
  if (this.positions.read().length && Date.now() - this.lastBatchAt >= 10000) {
    this.batchPositions();
  } else {
    this.flush();
  }
};

FieldQueue.prototype.backoff = function () {
  this.failures += 1;
  this.nextAttemptAt = Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, this.failures - 1));
  const self = this;
  window.setTimeout(function () { self.flush(); }, this.nextAttemptAt - Date.now() + 50);
};

/* The head item, with any directly following position batches for the same URL merged in. */
FieldQueue.prototype.head = function (items) {
  const first = items[0];
  if (first.kind !== "positions") { return { item: first, count: 1 }; }
  let merged = first.body.positions.slice();
  let count = 1;
  while (count < items.length && items[count].kind === "positions" &&
         items[count].url === first.url &&
         merged.length + items[count].body.positions.length <= POSITIONS_PER_REQUEST) {
    merged = merged.concat(items[count].body.positions);
    count += 1;
  }
  const item = Object.assign({}, first, { body: { positions: merged } });
  return { item: item, count: count };
};

FieldQueue.prototype.drop = function (qids) {
  const items = this.items.read().filter(function (it) { return qids.indexOf(it.qid) < 0; });
  this.items.write(items);
};

FieldQueue.prototype.flush = function () {
  const self = this;
  if (self.running) { return Promise.resolve(); }
  if (Date.now() < self.nextAttemptAt) { return Promise.resolve(); }
  if (navigator.onLine === false) { self.changed(); return Promise.resolve(); }
  const items = self.items.read();
  if (!items.length) { self.changed(); return Promise.resolve(); }
  self.running = true;
  const picked = self.head(items);
  const item = picked.item;
  const qids = items.slice(0, picked.count).map(function (it) { return it.qid; });

  function finish(again) {
    self.running = false;
    self.changed();
    if (again) { return self.flush(); }
    return undefined;
  }

  return fetch(item.url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "X-CSRFToken": self.opts.csrfToken() },
    body: JSON.stringify(item.body)
  }).then(function (res) {
    return res.text().then(function (text) {
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
      return { res: res, json: json };
    });
  }).then(function (r) {
    const status = r.res.status;
    const message = (r.json && r.json.message) || r.res.statusText || String(status);
    if (r.res.ok) {
      self.failures = 0;
      self.lastError = "";
      self.drop(qids);
      if (self.opts.onSent) { self.opts.onSent(item, r.json || {}); }
      return finish(true);
    }
    if (status >= 500 || status === 429 || status === 408) {
      self.lastError = message;
      self.backoff();
      return finish(false);
    }
    if (status === 401 || status === 403) {
      self.lastError = message;
      if (self.opts.onSignedOut) { self.opts.onSignedOut(message); }
      self.failures = Math.max(self.failures, 4);
      self.backoff();
      return finish(false);
    }
    if (status === 400 && !item.csrf_retried && self.opts.refreshCsrf) {
      // Maybe only the CSRF token expired: fetch a fresh one and try this item once more.
      const all = self.items.read();
      all.forEach(function (it) { if (qids.indexOf(it.qid) >= 0) { it.csrf_retried = true; } });
      self.items.write(all);
      return self.opts.refreshCsrf().then(function () { return finish(true); },
                                          function () { self.backoff(); return finish(false); });
    }
    // Any other refusal: this item can never succeed; drop it and say why.
    self.drop(qids);
    self.lastError = "";
    if (self.opts.onFailed) { self.opts.onFailed(item, message, status, r.json); }
    return finish(true);
  }, function () {
    // Network error: keep the item at the head and try again later.
    self.backoff();
    return finish(false);
  });
};

export { FieldQueue, newId };

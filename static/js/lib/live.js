/* Keeping a page up to date: the one live-update mechanism every page script uses.

   - stream(): a server-sent event stream (EventSource). The browser reconnects by itself and
     sends Last-Event-ID; when it gives up (a refused stream, a 5xx) this opens a new one after
     retryMs, asking url() again so the page can say where it stopped (?after=).
   - poll(): asks a JSON URL every intervalMs, backs off while the server does not answer and
     never stops; a page that comes back into view asks at once.
   Both tell the page about the connection through onState("connected" | "reconnecting" |
   "error"). The server side is described in the README ("Workers and live pages"). */

/**
 * @param {string | (() => string)} url the stream's URL, asked again on each new connection
 * @param {Object<string, (payload: any, eventId: number | null) => void>} handlers by event name
 * @param {{retryMs?: number, onState?: (state: string) => void,
 *          onEventId?: (id: number) => void}} options
 */
export function stream(url, handlers, options = {}) {
  const retryMs = options.retryMs || 5000;
  const onState = options.onState || (() => {});
  let source = null;
  let openedAt = 0;
  let retryTimer = null;

  function connect() {
    if (!window.EventSource) { return; }
    if (source) { source.close(); }
    source = new EventSource(typeof url === "function" ? url() : url);
    const current = source;
    current.addEventListener("open", () => { openedAt = Date.now(); onState("connected"); });
    current.addEventListener("error", () => {
      // The server may close each stream after answering (sync workers); the browser then
      // reconnects within a second or two. Say "reconnecting" only when it does not.
      const lostAt = Date.now();
      window.setTimeout(() => { if (openedAt < lostAt) { onState("reconnecting"); } }, 4000);
      if (current.readyState === EventSource.CLOSED) {
        window.clearTimeout(retryTimer);
        retryTimer = window.setTimeout(connect, retryMs);
      }
    });
    Object.keys(handlers).forEach((kind) => {
      current.addEventListener(kind, (event) => {
        const id = event.lastEventId ? Number(event.lastEventId) : null;
        if (id !== null && options.onEventId) { options.onEventId(id); }
        let payload;
        try { payload = JSON.parse(event.data); } catch (err) { return; }  // a bad message
        handlers[kind](payload, id);
      });
    });
  }

  connect();
  return { close() { window.clearTimeout(retryTimer); if (source) { source.close(); } } };
}

/**
 * @param {() => string} url the URL to ask, built anew each time (it may carry a version)
 * @param {(response: Response) => Promise<any> | any} onResponse gets each answer; a
 *        rejected promise or a thrown error counts as a failure
 * @param {{intervalMs: number, hiddenMs?: number, backoff?: boolean,
 *          onState?: (state: string) => void}} options
 */
export function poll(url, onResponse, options) {
  const onState = options.onState || (() => {});
  let failures = 0;
  let timer = null;
  let stopped = false;

  function schedule() {
    if (stopped) { return; }
    // Back off a little while the server does not answer; never stop.
    let wait = options.intervalMs * (options.backoff ? Math.min(1 + failures, 5) : 1);
    if (document.hidden && options.hiddenMs) { wait = Math.max(wait, options.hiddenMs); }
    timer = window.setTimeout(ask, wait);
  }

  function ask() {
    window.clearTimeout(timer);
    fetch(url(), {
      credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store"
    }).then(onResponse).then(() => {
      failures = 0;
      onState("connected");
    }, () => {
      failures += 1;
      onState("error");
    }).then(schedule);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !stopped) { ask(); }
  });
  schedule();
  return {
    now: ask,
    stop() { stopped = true; window.clearTimeout(timer); }
  };
}

/** The answer's JSON, or a rejection for a status other than 2xx. */
export function jsonOrFail(response) {
  if (!response.ok) { throw new Error(String(response.status)); }
  return response.json();
}

// keyferry's operations dashboard: signs in with an API token (kept in this tab's sessionStorage, sent only
// as a bearer header), opens the cookie session the job view needs, then polls GET /v1/overview and
// redraws. Plain DOM: every value goes in through textContent, never as HTML.

const TOKEN_KEY = "keyferry.token";
const POLL_MS = 1500;
const HIDDEN_POLL_MS = 5000;
const SESSION_REFRESH_MS = 30 * 60 * 1000;
const OPERATOR_ROLES = new Set(["operator", "admin"]);
// Steps a single operation of these types records (the step list itself is exact; this only sizes the bar).
const PLANNED_STEPS = { create: 1, delete: 1, distribute: 4, remove: 2 };

const $ = (id) => document.getElementById(id);
const state = { token: null, role: null, timer: null, sessionTimer: null, generation: 0 };

/** Make an element: h("td", {class: "x", dataset: {key: "k"}}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "class") element.className = value;
    else if (name === "onclick") element.addEventListener("click", value);
    else if (name in element) element[name] = value;
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// crypto.randomUUID needs a secure context; plain http to a non-loopback host is not one.
const randomKey = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

const shortId = (id) => (id ? id.slice(0, 8) : "");

function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

const badge = (text) => h("span", { class: `badge state-${text}` }, text);
const show = (id, ...nodes) => $(id).replaceChildren(...nodes);
const empty = (id, text) => show(id, h("p", { class: "empty" }, text));
const table = (cls, headings, rows) =>
  h(
    "table",
    { class: cls },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headings.map((t) => (t instanceof Node ? t : h("th", { scope: "col" }, t))),
      ),
    ),
    h("tbody", {}, rows),
  );
/** A labelled number (header totals, queue states, drift kinds). */
const figure = (cls, dataset, label, value) =>
  h("div", { class: cls, dataset }, h("dt", {}, label), h("dd", {}, String(value)));

async function api(method, path, options = {}) {
  const headers = { authorization: `Bearer ${state.token}`, ...(options.headers ?? {}) };
  const response = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store" });
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function renderCounts(overview) {
  const { counts, queues } = overview;
  const jobs = queues
    ? Object.values(queues).reduce((sum, q) => sum + (q.waiting ?? 0) + (q.active ?? 0), 0)
    : null;
  const items = [
    ["keys", "keys", counts.keys],
    ["destinations", "destinations", counts.destinations],
    ["copies", "copies", counts.copies],
    ["inFlight", "in flight", counts.inFlight],
    ["failedLastDay", "failed (24 h)", counts.failedLastDay],
    ["jobs", "jobs queued or active", jobs ?? "?"],
  ];
  show(
    "counts",
    ...items.map(([id, label, value]) =>
      figure(`count${id === "failedLastDay" && value > 0 ? " alert" : ""}`, { count: id }, label, value),
    ),
  );
}

function renderMatrix({ matrix }) {
  if (matrix.keys.length === 0 || matrix.destinations.length === 0) {
    return empty("matrix", "No keys or no destinations yet.");
  }
  const cells = new Map(matrix.cells.map((c) => [`${c.key}\u0000${c.kms}`, c]));
  const headings = [
    "key",
    ...matrix.destinations.map((d) => h("th", { scope: "col" }, d.name, h("small", {}, d.provider))),
  ];
  const rows = matrix.keys.map((key) =>
    h(
      "tr",
      { dataset: { key: key.name } },
      h("th", { scope: "row" }, key.name, h("small", {}, `${key.type} · v${key.latestVersion}`)),
      matrix.destinations.map((d) => {
        const cell = cells.get(`${key.name}\u0000${d.name}`);
        if (!cell)
          return h(
            "td",
            { class: "cell state-none", dataset: { key: key.name, kms: d.name, state: "none" } },
            "—",
          );
        const behind = cell.state === "active" && cell.version !== null && cell.version < key.latestVersion;
        return h(
          "td",
          {
            class: `cell state-${cell.state}${behind ? " behind" : ""}`,
            dataset: { key: key.name, kms: d.name, state: cell.state, version: cell.version ?? "" },
            title: behind ? `holds v${cell.version}; the key is at v${key.latestVersion}` : "",
          },
          h("span", { class: "cell-state" }, cell.state),
          cell.version === null ? null : h("span", { class: "cell-version" }, `v${cell.version}`),
        );
      }),
    ),
  );
  const more =
    matrix.keysTotal > matrix.keys.length
      ? h("p", { class: "hint" }, `Showing ${matrix.keys.length} of ${matrix.keysTotal} keys (by name).`)
      : null;
  show("matrix", table("matrix", headings, rows), more ?? "");
}

/** done/total of a bulk operation's children, else its finished steps against the steps it will have. */
function progressOf(op, matrix) {
  if (op.progress) {
    return { value: op.progress.done + op.progress.failed, max: op.progress.total, bulk: true };
  }
  const finished = op.steps.filter(
    (s) => s.state === "succeeded" || s.state === "skipped" || s.state === "failed",
  );
  let planned = PLANNED_STEPS[op.type] ?? op.steps.length;
  if (op.type === "rotate" || op.type === "update") {
    planned = 1 + matrix.cells.filter((c) => c.key === op.key && c.state !== "removed").length;
  }
  const max = Math.max(planned, op.steps.length, 1);
  return { value: op.state === "succeeded" ? max : Math.min(finished.length, max), max, bulk: false };
}

function renderProgress(op, matrix) {
  const p = progressOf(op, matrix);
  const label = p.bulk
    ? `${op.progress.done} done${op.progress.failed ? `, ${op.progress.failed} failed` : ""} of ${op.progress.total}` +
      (op.progress.etaSeconds !== undefined ? ` · about ${Math.ceil(op.progress.etaSeconds)} s left` : "")
    : `${p.value} of ${p.max} steps`;
  return h(
    "div",
    { class: "progress-line" },
    h("progress", {
      value: p.value,
      max: p.max,
      dataset: { operationId: op.id, done: p.value, total: p.max, kind: p.bulk ? "bulk" : "steps" },
      "aria-label": `progress of ${op.type} ${shortId(op.id)}`,
    }),
    h("span", { class: "progress-text" }, label),
  );
}

function operationHeading(op) {
  const target = [op.key, op.kms].filter(Boolean).join(" → ");
  return h(
    "div",
    { class: "op-head" },
    badge(op.state),
    h("strong", {}, op.type),
    target ? h("span", { class: "op-target" }, target) : null,
    h("code", { class: "op-id", title: op.id }, shortId(op.id)),
    h("span", { class: "muted" }, ago(op.createdAt)),
  );
}

function renderOperations({ operations, matrix }) {
  if (operations.length === 0) return empty("operations", "Nothing in flight.");
  show(
    "operations",
    h(
      "ul",
      { class: "ops" },
      operations.map((op) =>
        h(
          "li",
          { class: "op", dataset: { operationId: op.id, state: op.state, type: op.type } },
          operationHeading(op),
          renderProgress(op, matrix),
          h(
            "ol",
            { class: "steps" },
            op.steps.map((s) =>
              h(
                "li",
                { class: `step state-${s.state}`, dataset: { step: s.name, state: s.state } },
                s.name,
                s.attempts > 1 ? h("small", {}, ` ×${s.attempts}`) : null,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

async function retry(id, button) {
  button.disabled = true;
  try {
    await api("POST", `/v1/operations/${id}/retry`, { headers: { "idempotency-key": randomKey() } });
    setStatus(`Retry of ${shortId(id)} accepted.`);
  } catch (error) {
    setStatus(`Retry of ${shortId(id)} refused: ${error.message}`, true);
    button.disabled = false;
  }
}

function renderFailures({ failures }) {
  if (failures.length === 0) return empty("failures", "No failures in the last day.");
  const canRetry = OPERATOR_ROLES.has(state.role);
  show(
    "failures",
    h(
      "ul",
      { class: "ops" },
      failures.map((op) => {
        const failedSteps = op.steps.filter((s) => s.state === "failed").map((s) => s.name);
        return h(
          "li",
          { class: "op failure", dataset: { operationId: op.id, state: op.state } },
          operationHeading(op),
          h(
            "p",
            { class: "error-text" },
            op.error ? h("code", {}, op.error.code) : null,
            op.error ? ` ${op.error.message}` : " (no error recorded)",
          ),
          failedSteps.length ? h("p", { class: "muted" }, `failed step: ${failedSteps.join(", ")}`) : null,
          op.progress ? renderProgress(op, { cells: [] }) : null,
          canRetry
            ? h(
                "button",
                {
                  type: "button",
                  class: "retry",
                  dataset: { operationId: op.id },
                  onclick: (e) => retry(op.id, e.currentTarget),
                },
                "Retry",
              )
            : null,
        );
      }),
    ),
    canRetry ? "" : h("p", { class: "hint" }, "Read-only: an operator token may retry failed operations."),
  );
}

function renderDestinations({ destinations }) {
  if (destinations.length === 0) return empty("destinations", "No destinations yet.");
  const headings = [
    "destination",
    "backlog",
    "slots",
    "steps / min",
    "throttled (5 min)",
    "rate-limit tokens",
  ];
  const rows = destinations.map((d) => {
    // Without a rate override a destination draws on its account's (AWS) or vault's (Azure) quota buckets,
    // which the limiter keys by that scope, not by destination.
    const buckets = d.buckets
      ? Object.entries(d.buckets)
          .map(([b, n]) => `${b} ${n}`)
          .join(", ") || "shared quota"
      : "?";
    return h(
      "tr",
      { dataset: { kms: d.name, backlog: d.queued + d.running, throttled: d.throttledLast5m } },
      h("th", { scope: "row" }, d.name, h("small", {}, d.provider)),
      h("td", {}, `${d.queued} queued · ${d.running} running`),
      h("td", {}, `${d.slotsInUse ?? "?"}${d.concurrency ? ` / ${d.concurrency}` : ""}`),
      h("td", {}, `${d.stepsLastMinute}${d.rateLimitPerSecond ? ` (limit ${d.rateLimitPerSecond}/s)` : ""}`),
      h(
        "td",
        { class: d.throttledLast5m > 0 ? "warn" : "" },
        String(d.throttledLast5m),
        d.lastThrottledAt ? h("small", {}, `last ${ago(d.lastThrottledAt)}`) : null,
      ),
      h("td", { class: "muted" }, buckets),
    );
  });
  show("destinations", table("grid", headings, rows));
}

function renderQueues({ queues }) {
  if (!queues) return show("queues", h("p", { class: "error" }, "The queue (Redis) did not answer."));
  show(
    "queues",
    ...Object.entries(queues).map(([name, counts]) =>
      h(
        "div",
        { class: "queue", dataset: { queue: name } },
        h("h3", {}, name),
        h(
          "dl",
          { class: "chips" },
          Object.entries(counts).map(([s, n]) =>
            figure(`chip state-${s}`, { queue: name, state: s, count: n }, s, n),
          ),
        ),
      ),
    ),
  );
}

/** The API verifies the chain at most once a minute: what its last run found, and when. */
function verificationText(v) {
  if (!v) return ["pending", "Chain verification is running…"];
  const when = ago(v.checkedAt);
  if (v.ok === null) return ["error", `Chain verification could not run (${when}): ${v.error ?? ""}`];
  if (!v.ok) return ["false", `Chain BROKEN at entry ${v.firstBadSeq}: ${v.reason} (checked ${when}).`];
  const head = (v.head ?? "").slice(0, 12) || "—";
  return ["true", `Chain verified: ${v.entries} entries, head ${head}, ${when} (${v.durationMs} ms).`];
}

function renderLedger({ ledger }) {
  const [ok, text] = verificationText(ledger.verification);
  const line = $("verification");
  line.dataset.ok = ok;
  line.textContent = text;
  line.className = `verification verified-${ok}`;
  if (ledger.entries.length === 0) return empty("ledger", "No entries yet.");
  const headings = ["seq", "when", "event", "key", "kms", "operation", "actor"];
  const rows = ledger.entries.map((e) =>
    h(
      "tr",
      { dataset: { seq: e.seq, event: e.event } },
      h("td", {}, String(e.seq)),
      h("td", { title: e.recordedAt }, ago(e.recordedAt)),
      h("td", {}, e.event),
      h("td", {}, e.key ?? ""),
      h("td", {}, e.kms ?? ""),
      h("td", {}, h("code", { title: e.operationId ?? "" }, shortId(e.operationId))),
      h("td", {}, e.actor ?? ""),
    ),
  );
  show("ledger", table("grid", headings, rows));
}

function renderDrift({ drift }) {
  if (drift.length === 0) return empty("drift", "No reconcile has run yet.");
  show(
    "drift",
    ...drift.map((d) => {
      const counts = Object.entries(d.counts).filter(([, n]) => n > 0);
      return h(
        "div",
        { class: "drift", dataset: { kms: d.kms, findings: d.findingsTotal } },
        h("h3", {}, d.kms, h("small", {}, ` reconciled ${ago(d.checkedAt)}`)),
        counts.length === 0
          ? h("p", { class: "ok" }, "In sync.")
          : h(
              "dl",
              { class: "chips" },
              counts.map(([kind, n]) => figure("chip state-failed", { kind }, kind, n)),
            ),
        h(
          "ul",
          { class: "findings" },
          d.findings.map((f) =>
            h(
              "li",
              {},
              h("code", {}, f.kind),
              ` ${f.message}`,
              f.healed ? h("span", { class: "ok" }, " (healed)") : null,
            ),
          ),
        ),
        d.findingsTotal > d.findings.length
          ? h("p", { class: "hint" }, `${d.findingsTotal - d.findings.length} more`)
          : null,
      );
    }),
  );
}

function render(overview) {
  renderCounts(overview);
  renderMatrix(overview);
  renderOperations(overview);
  renderFailures(overview);
  renderDestinations(overview);
  renderQueues(overview);
  renderLedger(overview);
  renderDrift(overview);
  document.body.dataset.updated = overview.generatedAt;
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.className = `status wide${isError ? " error" : ""}`;
}

async function poll(generation) {
  if (generation !== state.generation) return;
  try {
    render(await api("GET", "/v1/overview"));
    setStatus(`Updated ${new Date().toLocaleTimeString()}.`);
  } catch (error) {
    if (error.status === 401) return signOut("The token was refused; sign in again.");
    setStatus(`Could not refresh: ${error.message}. Retrying…`, true);
  }
  if (generation !== state.generation) return;
  state.timer = setTimeout(() => poll(generation), document.hidden ? HIDDEN_POLL_MS : POLL_MS);
}

/** Opens (or renews) the cookie session for the job view; also tells who the token belongs to. */
async function openSession() {
  const session = await api("POST", "/ui/session");
  state.role = session.role;
  document.body.dataset.role = session.role;
  $("who").textContent = `${session.name} (${session.role})`;
  $("jobs-link").hidden = !session.jobBoards;
  $("jobs-admin-link").hidden = !session.jobBoards?.admin;
}

function showBoard(signedIn) {
  for (const id of ["board", "sign-out"]) $(id).hidden = !signedIn;
  for (const id of ["jobs-link", "jobs-admin-link"]) if (!signedIn) $(id).hidden = true;
  $("sign-in").hidden = signedIn;
}

async function start(token) {
  state.token = token;
  await openSession();
  sessionStorage.setItem(TOKEN_KEY, token);
  showBoard(true);
  state.generation += 1;
  clearInterval(state.sessionTimer);
  state.sessionTimer = setInterval(() => openSession().catch(() => {}), SESSION_REFRESH_MS);
  poll(state.generation);
}

function signOut(message = "") {
  state.generation += 1;
  clearTimeout(state.timer);
  clearInterval(state.sessionTimer);
  state.token = null;
  state.role = null;
  sessionStorage.removeItem(TOKEN_KEY);
  fetch("/ui/session", { method: "DELETE", credentials: "same-origin" }).catch(() => {});
  delete document.body.dataset.role;
  showBoard(false);
  $("who").textContent = "";
  show("counts");
  $("sign-in-error").textContent = message;
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  $("sign-in-error").textContent = "";
  try {
    await start(token);
    input.value = "";
  } catch (error) {
    state.token = null;
    $("sign-in-error").textContent =
      error.status === 401 ? "That token is unknown or revoked." : `Could not sign in: ${error.message}`;
  }
});

$("sign-out").addEventListener("click", () => signOut());

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) start(saved).catch(() => signOut("Your session ended; sign in again."));
else signOut();

// Spike alerts (docs/alerts.md): the banner on every inbox page while an alert is open, and the /alerts page.
// The banner polls GET /api/alerts (one small request every POLL_MS); alert sentences and customer messages are
// set as textContent (Inbox.el): a scope value or a message is hostile input.
"use strict";

const AlertBanner = (() => {
  const { api, el } = Inbox;
  const POLL_MS = 15000;
  const banner = document.getElementById("alert-banner");
  let timer = null;

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  async function refresh() {
    if (!banner) return;
    let raised;
    try {
      raised = await api("GET", "/api/alerts?status=raised&limit=1");
    } catch (error) {
      return; // a failed poll keeps the last state; the next one tries again
    }
    const { counts, items } = raised;
    if (counts.raised > 0) {
      const newest = items[0];
      banner.className = "alert-banner";
      banner.replaceChildren(
        el("span", {}, "⚠ Alert: "),
        el("a", { href: `/alerts/${newest.id}`, id: "alert-banner-link" }, newest.summary),
        el("span", { class: "more" },
          counts.raised > 1 ? `${plural(counts.raised, "alert")} need acknowledging · ` : "not acknowledged yet · ",
          el("a", { href: "/alerts" }, "all alerts"))
      );
      banner.hidden = false;
    } else if (counts.acknowledged > 0) {
      banner.className = "alert-banner acknowledged";
      banner.replaceChildren(
        el("span", {}, `${plural(counts.acknowledged, "alert")} acknowledged, not resolved yet · `),
        el("a", { href: "/alerts" }, "alerts")
      );
      banner.hidden = false;
    } else {
      banner.hidden = true;
      banner.replaceChildren();
    }
  }

  function start() {
    refresh();
    clearInterval(timer);
    timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
    });
  }

  start();
  return { refresh };
})();

(() => {
  const page = document.getElementById("alerts");
  if (!page) return;
  const { api, el, toast, when } = Inbox;
  const $ = (id) => document.getElementById(id);
  const me = Number(document.body.dataset.agentId);
  const isAdmin = document.body.dataset.agentRole === "admin";
  const PAGE = 50;
  const state = { items: [], selected: Number(page.dataset.selected) || null, detail: null, busy: false };

  function percentOrRate(alert, value) {
    return alert.metric === "negative_share" ? `${Math.round(value * 100)} %` : `${value.toFixed(1)} messages / 5 min`;
  }

  async function loadList(older) {
    const params = new URLSearchParams({ status: $("alerts-status").value, limit: String(PAGE) });
    if (older && state.items.length) params.set("before_id", String(state.items[state.items.length - 1].id));
    const data = await api("GET", "/api/alerts?" + params.toString());
    state.items = older ? state.items.concat(data.items) : data.items;
    const c = data.counts;
    $("alerts-count").textContent = `(${c.raised} raised · ${c.acknowledged} acknowledged · ${c.resolved} resolved)`;
    $("alerts-more").hidden = data.items.length < PAGE;
    renderList();
  }

  function renderList() {
    const items = state.items.map((alert) =>
      el("li", {
        class: `item alert-item${alert.id === state.selected ? " selected" : ""}`,
        tabindex: "0",
        dataset: { id: alert.id },
        "aria-current": alert.id === state.selected ? "true" : null,
        onclick: () => select(alert.id),
        onkeydown: (event) => { if (event.key === "Enter") select(alert.id); },
      },
      el("div", { class: "row" },
        el("span", { class: `badge alert-${alert.status}` }, alert.status),
        el("span", { class: "muted" }, `#${alert.id} · ${when(alert.raised_at)}`)),
      el("div", { class: "summary" }, alert.summary))
    );
    $("alerts-items").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No alerts here.")]));
  }

  async function select(id) {
    state.selected = id;
    history.replaceState(null, "", `/alerts/${id}`);
    renderList();
    try {
      state.detail = await api("GET", `/api/alerts/${id}`);
    } catch (error) {
      toast(error.message, true);
      return;
    }
    renderDetail();
  }

  function fact(term, ...value) {
    return [el("dt", {}, term), el("dd", {}, ...value)];
  }

  function renderDetail() {
    const a = state.detail;
    $("alert-empty").hidden = true;
    $("alert-detail").hidden = false;
    $("alert-title").textContent = a.summary;
    $("alert-meta").replaceChildren(
      el("span", { class: `badge alert-${a.status}`, id: "alert-status" }, a.status),
      el("span", { class: "muted" }, `#${a.id} · rule ${a.rule.name} · raised ${when(a.raised_at)}`)
    );
    const facts = [
      ...fact("Scope", `${a.scope_value} (${a.rule.scope})`),
      ...fact("Window", `${when(a.started_at)} → ${when(a.window_end)}`),
      ...fact("Usual → now", `${percentOrRate(a, a.before_value)} → ${percentOrRate(a, a.now_value)}`),
      ...fact("Messages in the window", String(a.volume)),
    ];
    if (a.acknowledged_by) facts.push(...fact("Acknowledged", `${a.acknowledged_by.name}, ${when(a.acknowledged_at)}`));
    if (a.resolved_by) facts.push(...fact("Resolved", `${a.resolved_by.name}, ${when(a.resolved_at)}`));
    $("alert-facts").replaceChildren(...facts);
    const canResolve = a.status !== "resolved" && (isAdmin || (a.acknowledged_by && a.acknowledged_by.id === me));
    $("alert-acknowledge").disabled = a.status !== "raised";
    $("alert-resolve").disabled = !canResolve;
    $("alert-message-count").textContent = `(${a.messages.length})`;
    $("alert-messages").replaceChildren(
      ...a.messages.map((m) =>
        el("li", { class: "message customer", dataset: { id: m.id } },
          el("div", { class: "row muted" },
            el("a", { href: m.conversation_url, class: "conversation-link" }, m.conversation_id),
            m.channel, m.intent ? el("span", { class: "badge intent" }, m.intent) : null,
            m.sentiment && m.sentiment.label ? el("span", { class: `badge sentiment-${m.sentiment.label}` }, m.sentiment.label) : null,
            el("span", {}, when(m.sent_at))),
          el("div", { class: "text" }, m.text || ""))
      )
    );
    $("alert-deliveries").replaceChildren(
      ...(a.deliveries.length
        ? a.deliveries.map((d) => el("li", {}, `${d.channel} → ${d.recipient}: ${d.status}`,
            d.attempts > 1 ? ` after ${d.attempts} attempts` : "", d.last_error ? ` (${d.last_error})` : ""))
        : [el("li", { class: "muted" }, "No webhook or email recipients: this inbox only.")])
    );
  }

  async function change(action) {
    if (!state.detail || state.busy) return;
    state.busy = true;
    try {
      state.detail = await api("POST", `/api/alerts/${state.detail.id}/${action}`);
      toast(action === "acknowledge" ? "Acknowledged: the team sees you are on it." : "Resolved.");
      renderDetail();
      await loadList(false);
      AlertBanner.refresh();
    } catch (error) {
      toast(error.message, true);
    } finally {
      state.busy = false;
    }
  }

  $("alert-acknowledge").addEventListener("click", () => change("acknowledge"));
  $("alert-resolve").addEventListener("click", () => change("resolve"));
  $("alerts-status").addEventListener("change", () => loadList(false).catch((e) => toast(e.message, true)));
  $("alerts-more").addEventListener("click", () => loadList(true).catch((e) => toast(e.message, true)));

  loadList(false)
    .then(() => {
      if (state.selected) return select(state.selected);
      if (state.items.length) return select(state.items[0].id);
      return null;
    })
    .catch((error) => toast(error.message, true));
})();

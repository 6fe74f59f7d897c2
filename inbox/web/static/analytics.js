// The analytics page (docs/analytics.md, "The page"): KPI tiles and charts from /api/analytics, filters kept
// in the URL, a click on a point lists the conversations behind it. Chart.js is served by the inbox
// (/vendor/chart.js). Category names come from the log (intents, products): they are set as text, never HTML.
"use strict";

(() => {
  const { api, el } = Inbox;
  const $ = (id) => document.getElementById(id);
  const PALETTE = ["#1f6feb", "#2e7d32", "#b26a00", "#c62828", "#6f42c1", "#0b7285", "#d6336c", "#5c940d", "#868e96"];
  const SENTIMENT_COLOURS = { negative: "#c62828", neutral: "#9aa5b1", positive: "#2e7d32", unknown: "#dee2e6" };
  // What a rate's parts are called on each chart: [all (the denominator), hits (the numerator), misses].
  const PARTS = {
    containment: ["bot conversations", "contained", "handed over"],
    bot_resolution: ["bot conversations", "resolved by the bot", "not resolved"],
    handoff: ["bot conversations", "handed over", "contained"],
    sla: ["handoffs decided", "SLA met", "SLA breached"],
    csat: ["rated", "thumbs up", "thumbs down"],
    fallback: ["answered", "fallback answers", "other answers"],
    recommendation_opens: ["recommendations shown", "opened", "not opened"],
  };
  const CHARTS = [
    { metric: "conversations", by: "channel", type: "bar", stacked: true, title: "Conversations by channel" },
    { metric: "containment", type: "line", percent: true, title: "Containment" },
    { metric: "bot_resolution", type: "line", percent: true, title: "Bot resolution" },
    { metric: "handoff", type: "line", percent: true, title: "Handoff rate by reason" },
    { metric: "first_response", type: "line", duration: true, title: "First response time (minutes)" },
    { metric: "sla", type: "line", percent: true, title: "SLA met" },
    { metric: "sentiment", type: "bar", stacked: true, percent: true, title: "Customer sentiment" },
    { metric: "csat", type: "line", percent: true, title: "CSAT (thumbs-up share)" },
    { metric: "fallback", type: "line", percent: true, title: "Fallback rate" },
    { metric: "recommendation_opens", type: "line", percent: true, title: "Recommendation opens" },
  ];
  const FILTERS = ["from", "to", "granularity", "channel", "product", "intent"];
  const ZONE = document.getElementById("analytics").dataset.timezone;
  // Times as the charts read them: in the insurer's zone, not the browser's.
  const when = (iso) => new Date(iso).toLocaleString(undefined, { timeZone: ZONE, dateStyle: "medium", timeStyle: "short" });
  const charts = new Map(); // metric -> Chart
  let drill = null; // what the drill-down panel shows: {conf, series, index, part}

  // ---- filters <-> URL <-> API parameters ------------------------------------------------------------------

  function formValues() {
    const values = {};
    for (const name of FILTERS) {
      const value = $(`an-${name}`).value.trim();
      if (value) values[name] = value;
    }
    return values;
  }

  function dayAfter(isoDate) {
    const [y, m, d] = isoDate.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  }

  function dayBefore(isoDate) {
    const [y, m, d] = isoDate.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
  }

  // The page's "to" is the last day shown; the API's end is exclusive.
  function apiParams(extra) {
    const values = formValues();
    const params = new URLSearchParams();
    if (values.from) params.set("start", values.from);
    if (values.to) params.set("end", dayAfter(values.to));
    for (const name of ["granularity", "channel", "product", "intent"]) if (values[name]) params.set(name, values[name]);
    for (const [key, value] of Object.entries(extra || {})) if (value !== null && value !== undefined) params.set(key, value);
    return params;
  }

  function restoreFromUrl() {
    const query = new URLSearchParams(location.search);
    for (const name of FILTERS) if (query.get(name)) $(`an-${name}`).value = query.get(name);
  }

  function saveToUrl() {
    const query = new URLSearchParams(formValues());
    history.replaceState(null, "", `${location.pathname}?${query.toString()}`);
  }

  // ---- numbers ----------------------------------------------------------------------------------------------

  const percent = (rate) => (rate.value === null ? "–" : `${(rate.value * 100).toFixed(1)}%`);
  const minutes = (seconds) => (seconds === null || seconds === undefined ? null : seconds / 60);

  function humanDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  // ---- KPI tiles --------------------------------------------------------------------------------------------

  function tile(label, value, detail, key) {
    return el("div", { class: "panel an-tile", dataset: { kpi: key } },
      el("div", { class: "an-tile-label muted" }, label),
      el("div", { class: "an-tile-value" }, value),
      el("div", { class: "an-tile-detail muted" }, detail || ""));
  }

  const rateTile = (label, rate, of, key) => tile(label, percent(rate), `${rate.numerator} of ${rate.denominator} ${of}`, key);

  function renderTiles(s) {
    $("an-tiles").replaceChildren(
      tile("Conversations", s.conversations.toLocaleString(), `${s.messages.toLocaleString()} messages`, "conversations"),
      rateTile("Containment", s.containment, "bot conversations", "containment"),
      rateTile("Bot resolution", s.bot_resolution, "bot conversations", "bot_resolution"),
      rateTile("Handoff rate", s.handoff, "bot conversations", "handoff"),
      tile("First response", humanDuration(s.first_response.mean), `mean of ${s.first_response.count} handoffs answered`, "first_response"),
      rateTile("SLA met", s.sla, "handoffs decided", "sla"),
      rateTile("CSAT", s.csat, "ratings", "csat"),
      rateTile("Fallback rate", s.fallback, "answers", "fallback"),
      rateTile("Negative sentiment", s.negative_sentiment, "customer messages", "negative_sentiment"),
    );
  }

  // ---- charts -----------------------------------------------------------------------------------------------

  function chartPanel(conf) {
    const canvas = el("canvas", { id: `chart-${conf.metric}`, dataset: { metric: conf.metric }, role: "img",
      "aria-label": `${conf.title}: click a point for the conversations behind it` });
    const csv = el("a", { class: "an-csv", dataset: { metric: conf.metric }, download: "" }, "CSV");
    return el("div", { class: "panel an-chart", dataset: { metric: conf.metric } },
      el("div", { class: "an-chart-head" }, el("h2", {}, conf.title), csv),
      el("div", { class: "an-canvas" }, canvas));
  }

  function datasets(conf, series) {
    if (conf.duration) {
      const only = series.series[0].values;
      return [
        { label: "median", data: only.map((d) => minutes(d.median)), raw: only, category: null },
        { label: "90th percentile", data: only.map((d) => minutes(d.p90)), raw: only, category: null },
      ];
    }
    return series.series.map((line) => ({
      label: line.category,
      category: line.category === "all" ? null : line.category,
      raw: line.values,
      data: line.values.map((v) => (typeof v === "number" ? v : v.value === null ? null : v.value * 100)),
    }));
  }

  function colour(conf, label, index) {
    if (conf.metric === "sentiment" && SENTIMENT_COLOURS[label]) return SENTIMENT_COLOURS[label];
    return PALETTE[index % PALETTE.length];
  }

  function tooltipLabel(conf, context) {
    const set = context.dataset;
    const raw = set.raw[context.dataIndex];
    if (conf.duration) return `${set.label}: ${humanDuration(set.label === "median" ? raw.median : raw.p90)} (${raw.count} measured)`;
    if (typeof raw === "number") return `${set.label}: ${raw}`;
    return `${set.label}: ${percent(raw)} (${raw.numerator} of ${raw.denominator})`;
  }

  function drawChart(conf, series) {
    const canvas = $(`chart-${conf.metric}`);
    const old = charts.get(conf.metric);
    if (old) old.destroy();
    const sets = datasets(conf, series).map((set, index) => {
      const c = colour(conf, set.label, index);
      return { ...set, borderColor: c, backgroundColor: conf.type === "bar" ? c : c + "33", pointRadius: 3,
        pointHoverRadius: 6, borderWidth: conf.type === "bar" ? 0 : 2, tension: 0.25, spanGaps: false };
    });
    const chart = new Chart(canvas, {
      type: conf.type,
      data: { labels: series.buckets.map((b) => b.label), datasets: sets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: conf.type === "bar" ? { mode: "nearest", intersect: true } : { mode: "nearest", intersect: false, axis: "xy" },
        scales: {
          x: { stacked: !!conf.stacked, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          y: {
            stacked: !!conf.stacked,
            beginAtZero: true,
            max: conf.percent && conf.stacked ? 100 : undefined,
            suggestedMax: conf.percent ? 100 : undefined,
            ticks: { callback: (v) => (conf.percent ? `${v}%` : v) },
          },
        },
        plugins: {
          legend: { display: sets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: (context) => tooltipLabel(conf, context) } },
        },
        onClick: (event, elements) => {
          if (!elements.length) return;
          const { datasetIndex, index } = elements[0];
          openDrill(conf, series, sets[datasetIndex], index);
        },
        onHover: (event, elements) => { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
      },
    });
    charts.set(conf.metric, chart);
    canvas.dataset.points = String(sets.reduce((n, set) => n + set.data.filter((v) => v !== null).length, 0));
  }

  async function loadChart(conf) {
    const extra = { metric: conf.metric, by: conf.by || null };
    const series = await api("GET", "/api/analytics/series?" + apiParams(extra).toString());
    document.querySelector(`.an-csv[data-metric="${conf.metric}"]`).href = "/api/analytics/series.csv?" + apiParams(extra).toString();
    drawChart(conf, series);
  }

  // ---- drill-down -------------------------------------------------------------------------------------------

  function openDrill(conf, series, set, index) {
    drill = { conf, series, set, index, part: "all" };
    showDrill();
  }

  async function showDrill() {
    const { conf, series, set, index, part } = drill;
    const bucket = series.buckets[index];
    const names = PARTS[conf.metric];
    const hasParts = names && !(conf.metric === "handoff" && set.category);
    const raw = set.raw[index];
    const title = [conf.title, bucket.label, set.category].filter(Boolean).join(" · ");
    $("an-drill-title").textContent = title;
    $("an-drill-parts").replaceChildren(
      ...(hasParts ? ["all", "hits", "misses"].map((p, i) => el("button", {
        type: "button", class: p === part ? "primary" : "", dataset: { part: p }, "aria-pressed": p === part ? "true" : "false",
        onclick: () => { drill.part = p; showDrill(); },
      }, names[i])) : []));
    const extra = { metric: conf.metric, bucket: bucket.start, part: hasParts ? part : "all", by: conf.by || null,
      category: set.category, limit: "200" };
    const found = await api("GET", "/api/analytics/drilldown?" + apiParams(extra).toString()).catch(showError);
    if (!found) return;
    const shown = found.conversations.length;
    const counted = raw && typeof raw === "object" && "denominator" in raw ? ` · the point counts ${raw.numerator} of ${raw.denominator}` : "";
    $("an-drill-note").textContent = `${shown} conversation${shown === 1 ? "" : "s"}${found.truncated ? " (the first 200)" : ""}${counted}`;
    $("an-drill-rows").replaceChildren(...found.conversations.map((c) => el("tr", { dataset: { id: c.id } },
      el("td", {}, el("a", { href: `/conversations/${encodeURIComponent(c.id)}` }, c.id)),
      el("td", {}, c.channel),
      el("td", {}, when(c.started_at)),
      el("td", {}, el("span", { class: `badge status ${c.status}` }, c.status)))));
    $("an-drill").hidden = false;
  }

  // ---- the intent filter's choices: the intents seen in the period (and channel), most frequent first -------

  async function loadIntents() {
    const params = apiParams(); // the chosen intent and product do not narrow the choices
    params.delete("intent");
    params.delete("product");
    const found = await api("GET", "/api/analytics/intents?" + params.toString());
    $("an-intents").replaceChildren(...found.intents.map((i) =>
      el("option", { value: i.intent, label: `${i.intent} (${i.messages})` })));
  }

  // ---- the page ---------------------------------------------------------------------------------------------

  function showError(error) {
    $("an-error").textContent = error.message;
    $("an-error").hidden = false;
    return null;
  }

  async function load() {
    $("an-error").hidden = true;
    $("an-drill").hidden = true;
    saveToUrl();
    try {
      const summary = await api("GET", "/api/analytics/summary?" + apiParams().toString());
      if (!$("an-from").value) $("an-from").value = summary.start.slice(0, 10);
      if (!$("an-to").value) $("an-to").value = dayBefore(summary.end.slice(0, 10));
      saveToUrl();
      renderTiles(summary);
      await Promise.all([...CHARTS.map(loadChart), loadIntents()]);
      document.body.dataset.analyticsLoaded = "true";
    } catch (error) {
      showError(error);
    }
  }

  async function start() {
    const catalogue = await api("GET", "/api/analytics/metrics");
    $("an-channel").append(...catalogue.channels.map((c) => el("option", { value: c }, c)));
    $("an-product").append(...catalogue.products.map((p) => el("option", { value: p }, p)));
    restoreFromUrl();
    $("an-charts").replaceChildren(...CHARTS.map(chartPanel));
    $("an-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    await load();
  }

  start().catch(showError);
})();

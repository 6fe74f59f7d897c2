// The Models page (admins): the model registry with the gate's numbers, "Retrain now", "Restore" per earlier
// model, and the current job's progress lines. Polls GET /api/learning/jobs: every FAST_MS while a job is queued
// or running, every SLOW_MS otherwise (another admin may start one). Every text is set as textContent (Inbox.el).
"use strict";

(() => {
  const { api, el, toast, when, duration } = Inbox;
  const FAST_MS = 2000;
  const SLOW_MS = 15000;
  const WAITING = new Set(["queued", "running"]);
  const METRICS = ["heldout_intent", "heldout_sentiment", "annotated_intent", "stories"];
  const retrainButton = document.getElementById("retrain-now");
  let timer = null;
  let current = null; // the latest job, as last seen
  let activeVersion = null;

  function jobName(job) {
    if (job.kind === "retrain") return "Retrain";
    return `Restore ${job.target_version || "the previous model"}`;
  }

  function badge(prefix, status) {
    return el("span", { class: `badge ${prefix}-${status}` }, status);
  }

  function agentName(brief) {
    return brief ? brief.name || `agent ${brief.id}` : "command line";
  }

  function showJob(job) {
    document.getElementById("job-empty").hidden = Boolean(job);
    document.getElementById("job").hidden = !job;
    if (!job) return;
    document.getElementById("job-title").replaceChildren(`Job ${job.id}: ${jobName(job)} `, badge("job", job.status));
    const meta = [`asked by ${agentName(job.requested_by)} ${when(job.requested_at)}`];
    const queuedFor = (Date.now() - new Date(job.requested_at)) / 1000;
    if (job.status === "queued") {
      meta.push(queuedFor > 30
        ? `no worker has taken it for ${duration(queuedFor)}: is the learning worker running (python -m learning worker)?`
        : "waiting for the learning worker");
    }
    if (job.status === "running" && job.started_at) {
      meta.push(`running for ${duration((Date.now() - new Date(job.started_at)) / 1000)}`);
      if (job.heartbeat_at) meta.push(`worker ${job.worker}, last sign of life ${duration((Date.now() - new Date(job.heartbeat_at)) / 1000)} ago`);
    }
    if (job.finished_at) meta.push(`finished ${when(job.finished_at)}`);
    document.getElementById("job-meta").replaceChildren(
      ...meta.map((text) => el("span", { class: "muted" }, text)),
      job.status === "queued" ? el("button", { type: "button", id: "cancel-job", onclick: () => cancel(job.id) }, "Cancel") : null
    );
    const progress = document.getElementById("job-progress");
    const atBottom = progress.scrollTop + progress.clientHeight >= progress.scrollHeight - 4;
    progress.replaceChildren(
      ...job.progress.map((entry) => el("li", {}, el("span", { class: "at" }, new Date(entry.at).toLocaleTimeString()), entry.line))
    );
    if (atBottom) progress.scrollTop = progress.scrollHeight;
    document.getElementById("job-result-box").hidden = !job.result;
    document.getElementById("job-result").textContent = job.result || "";
  }

  function showJobs(jobs) {
    document.getElementById("jobs").replaceChildren(
      ...jobs.map((job) =>
        el("tr", { dataset: { id: job.id } },
          el("td", {}, String(job.id)), el("td", {}, jobName(job)), el("td", {}, badge("job", job.status)),
          el("td", {}, agentName(job.requested_by)), el("td", {}, when(job.requested_at)), el("td", {}, when(job.finished_at)),
          el("td", {}, job.model_version || ""))
      )
    );
  }

  function metricCell(metrics, key) {
    if (!metrics || !metrics.candidate) return el("td", { class: "muted" }, "–");
    const value = metrics.candidate[key];
    const before = metrics.active ? metrics.active[key] : null;
    if (value === null || value === undefined) return el("td", { class: "muted" }, "n/a");
    if (before === null || before === undefined) return el("td", {}, value.toFixed(1));
    const change = value - before;
    const sign = change > 0 ? "+" : change < 0 ? "−" : "±";
    return el("td", { title: `the active model then (${metrics.active_version}): ${before.toFixed(1)}` },
      value.toFixed(1), " ",
      el("span", { class: `delta ${change > 0 ? "up" : change < 0 ? "down" : ""}` }, `(${sign}${Math.abs(change).toFixed(1)})`));
  }

  function showModels(models) {
    const active = models.find((m) => m.status === "active");
    activeVersion = active ? active.version : null;
    document.getElementById("models-count").textContent = `${models.length} model${models.length === 1 ? "" : "s"}`;
    const busy = current && WAITING.has(current.status);
    document.getElementById("models").replaceChildren(
      ...models.map((m) =>
        el("tr", { class: m.status, dataset: { version: m.version } },
          el("td", {}, el("code", {}, m.version), m.note ? el("div", { class: "muted" }, m.note) : null,
            m.verdict ? el("details", {}, el("summary", {}, "gate report"), el("pre", {}, m.verdict)) : null),
          el("td", {}, badge("model", m.status)),
          ...METRICS.map((key) => metricCell(m.metrics, key)),
          el("td", { title: m.data_hash }, el("code", {}, m.data_hash.slice(0, 12))),
          el("td", {}, when(m.created_at), m.created_by ? el("div", { class: "muted" }, `by ${agentName(m.created_by)}`) : null),
          el("td", {}, m.promoted_at ? when(m.promoted_at) : "", m.promoted_at ? el("div", { class: "muted" }, `by ${agentName(m.promoted_by)}`) : null),
          el("td", {}, m.restorable
            ? el("button", { type: "button", class: "restore", disabled: busy, onclick: () => restore(m.version) }, "Restore")
            : null))
      )
    );
  }

  async function restore(version) {
    const instead = activeVersion ? ` instead of ${activeVersion}` : "";
    if (!window.confirm(`Restore model ${version}? The running Rasa server will answer with it${instead}, without a restart.`)) return;
    try {
      current = await api("POST", "/api/learning/rollback", { version });
      toast(`Queued: restore ${version}`);
      showJob(current);
      await refresh(true);
    } catch (error) {
      toast(error.message, true);
    }
  }

  async function cancel(jobId) {
    try {
      current = await api("POST", `/api/learning/jobs/${jobId}/cancel`);
      toast(`Job ${jobId} cancelled`);
      await refresh(true);
    } catch (error) {
      toast(error.message, true);
    }
  }

  async function retrain() {
    retrainButton.disabled = true;
    try {
      current = await api("POST", "/api/learning/retrain");
      toast("Queued: retrain");
      showJob(current);
      await refresh(true);
    } catch (error) {
      toast(error.message, true);
      await refresh(true);
    }
  }

  async function refresh(reloadModels) {
    const before = current;
    let jobs;
    try {
      jobs = await api("GET", "/api/learning/jobs?limit=10");
    } catch (error) {
      schedule(SLOW_MS); // a failed poll keeps what is shown; the next one tries again
      return;
    }
    current = jobs[0] || null;
    const busy = Boolean(current && WAITING.has(current.status));
    const finishedNow = before && WAITING.has(before.status) && current && current.id === before.id && !busy;
    showJob(current);
    showJobs(jobs);
    retrainButton.disabled = busy;
    if (finishedNow) toast(`Job ${current.id} ${current.status}`, current.status === "failed");
    if (reloadModels || !before || finishedNow || busy !== Boolean(before && WAITING.has(before.status))) {
      showModels(await api("GET", "/api/learning/models"));
    }
    schedule(busy ? FAST_MS : SLOW_MS);
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (document.visibilityState === "visible") refresh();
      else schedule(ms);
    }, ms);
  }

  retrainButton.addEventListener("click", retrain);
  refresh(true).catch((error) => toast(error.message, true));
})();

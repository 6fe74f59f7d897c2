// The review page: one pass per logged customer message, keyboard first (docs/learning.md, "Review page").
// Everything the customer wrote is set as textContent (Inbox.el): it is hostile input.
"use strict";

(() => {
  const { api, el, toast, when } = Inbox;
  const isAdmin = document.body.dataset.agentRole === "admin";
  const $ = (id) => document.getElementById(id);
  // replaceChildren would write "null" for a missing part: leave those out.
  const fill = (node, ...children) => node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  const SENTIMENT_KEYS = { n: "negative", u: "neutral", p: "positive" };
  const VERDICT_KEYS = { g: "good", w: "wrong", h: "should_have_handed_over" };
  // A word: letters/digits, joined by - . / _ @ ' inside it ("PX-88123", "e-mail", "jo@x.com"), not at its ends.
  const WORD = /[\p{L}\p{N}](?:[\p{L}\p{N}\-./_@']*[\p{L}\p{N}])?/gu;

  const state = {
    items: [], total: 0, index: -1, detail: null, draft: null, words: [],
    entityMode: false, anchor: 0, cursor: 0, ticked: new Set(), saving: false,
  };

  function blankDraft(detail) {
    const text = detail.message.text || "";
    // The model's entities that are exact spans of the text start the list; the annotator fixes them.
    const entities = (detail.message.entities || [])
      .filter((e) => Number.isInteger(e.start) && Number.isInteger(e.end) && text.slice(e.start, e.end) === e.value)
      .map((e) => ({ entity: e.entity, value: e.value, start: e.start, end: e.end }));
    return { intent: null, entities, sentiment: null, reply_verdict: null };
  }

  // ---- the queue -------------------------------------------------------------------------------------------

  async function loadQueue() {
    const params = new URLSearchParams({ limit: "100" });
    const reason = $("rq-reason").value;
    if (reason) params.set("reason", reason);
    const page = await api("GET", "/api/review/queue?" + params.toString());
    state.items = page.items;
    state.total = page.total;
    // The best 100 are listed; past them, the count says how many wait (a reason filter narrows them).
    $("rq-count").textContent = page.total > page.items.length ? `(${page.items.length} of ${page.total})` : `(${page.total})`;
    renderQueue();
  }

  function renderQueue() {
    const current = state.detail ? state.detail.message.id : null;
    $("rq-items").replaceChildren(
      ...state.items.map((item, index) =>
        el(
          "li",
          {
            class: `item review-item${item.id === current ? " selected" : ""}`,
            tabindex: "0",
            dataset: { id: item.id },
            "aria-current": item.id === current ? "true" : null,
            onclick: () => select(index),
            onkeydown: (event) => {
              if (event.key === "Enter" && event.target === event.currentTarget) {
                event.preventDefault();
                event.stopPropagation();
                select(index);
              }
            },
          },
          el("div", { class: "row" },
            el("strong", { class: "score", title: "score: the sum of the reasons' weights" }, String(item.score)),
            ...item.reasons.map((r) => el("span", { class: `badge reason reason-${r.reason}`, title: r.why }, r.reason.replace(/_/g, " "))),
            isAdmin ? el("input", {
              type: "checkbox", class: "tick", "aria-label": `tick message ${item.id} for bulk accept`,
              checked: state.ticked.has(item.id), onclick: (event) => event.stopPropagation(),
              onchange: (event) => setTicked(item.id, event.target.checked),
            }) : null),
          el("div", { class: "row review-text" }, item.text || ""),
          el("div", { class: "row muted" }, `${item.channel || ""} · ${item.conversation_id}`, el("span", {}, when(item.sent_at)))
        )
      )
    );
  }

  function setTicked(id, on) {
    if (on) state.ticked.add(id);
    else state.ticked.delete(id);
    showTicks();
  }

  function showTicks() {
    const button = $("bulk-accept");
    if (button) {
      button.disabled = state.ticked.size === 0;
      $("ticked-count").textContent = state.ticked.size ? `${state.ticked.size} ticked` : "";
    }
    renderQueue();
  }

  // ---- one message -----------------------------------------------------------------------------------------

  async function select(index) {
    if (!state.items.length) {
      state.index = -1;
      state.detail = null;
      $("rv-detail").hidden = true;
      $("rv-empty").hidden = false;
      $("rv-empty").focus();
      renderQueue();
      return;
    }
    state.index = Math.max(0, Math.min(index, state.items.length - 1));
    const id = state.items[state.index].id;
    try {
      const detail = await api("GET", `/api/review/messages/${id}`);
      state.detail = detail;
      state.draft = blankDraft(detail);
      state.words = [...(detail.message.text || "").matchAll(WORD)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
      leaveEntityMode();
      closePicker("intent");
      showError("");
      render();
      renderQueue();
      $("rv-detail").hidden = false;
      $("rv-empty").hidden = true;
      $("rv-detail").focus();
      const row = document.querySelector(`#rq-items li[data-id="${id}"]`);
      if (row) row.scrollIntoView({ block: "nearest" });
    } catch (error) {
      showError(`Could not open message ${id}: ${error.message}`);
      toast(`Could not open message ${id}: ${error.message}`, true);  // the error line may be hidden
    }
  }

  function showError(message) {
    const box = $("rv-error");
    box.textContent = message;
    box.hidden = !message;
  }

  function author(m) {
    if (m.author === "agent") return m.agent_name ? `${m.agent_name} (agent)` : "agent";
    return m.author;
  }

  function contextItem(m) {
    return el("li", { class: `message ${m.author}` },
      el("div", { class: "muted meta" }, `${author(m)} · ${when(m.sent_at)}`),
      el("div", { class: "text" }, m.text || ""));
  }

  // The text under review as word spans: the entity selection and the marked entities are classes on them.
  function targetText() {
    const text = state.detail.message.text || "";
    const nodes = [];
    let at = 0;
    const [lo, hi] = [Math.min(state.anchor, state.cursor), Math.max(state.anchor, state.cursor)];
    state.words.forEach((word, i) => {
      if (word.start > at) nodes.push(text.slice(at, word.start));
      const marked = state.draft.entities.find((e) => e.start <= word.start && word.end <= e.end);
      const classes = ["word"];
      if (marked) classes.push("entity");
      if (state.entityMode && i >= lo && i <= hi) classes.push("picked");
      nodes.push(el("span", {
        class: classes.join(" "), dataset: { i: String(i) }, title: marked ? marked.entity : null,
        onmousedown: (event) => { event.preventDefault(); mouseWord(i, event.shiftKey); },
      }, text.slice(word.start, word.end)));
      at = word.end;
    });
    if (at < text.length) nodes.push(text.slice(at));
    return el("div", { class: "text target-text", id: "rv-text" }, ...nodes);
  }

  function mouseWord(i, extend) {
    if (!state.entityMode) enterEntityMode();
    if (!extend) state.anchor = i;
    state.cursor = i;
    render();
  }

  function render() {
    const { message, reasons, replies, context, offered_intents: offered } = state.detail;
    const draft = state.draft;
    $("rv-title").textContent = `Message #${message.id}`;
    $("rv-meta").replaceChildren(
      el("span", { class: "badge" }, message.channel || ""), el("span", {}, message.conversation_id), el("span", { class: "muted" }, when(message.sent_at)));
    $("rv-reasons").replaceChildren(...reasons.map((r) => el("span", { class: `badge reason reason-${r.reason}`, title: r.why }, `${r.reason.replace(/_/g, " ")} +${r.weight}`)));
    $("rv-context").replaceChildren(
      ...context.before.map(contextItem),
      el("li", { class: "message customer target", "aria-label": "the message under review" },
        el("div", { class: "muted meta" }, `customer · ${when(message.sent_at)} · under review`), targetText()),
      ...replies.map((m) => el("li", { class: `message ${m.author} reply-judged` },
        el("div", { class: "muted meta" }, `${author(m)}'s reply${m.answer_source ? " · " + m.answer_source : ""} · the verdict judges this`),
        el("div", { class: "text" }, m.text || ""))),
      ...context.after.filter((m) => !replies.some((r) => r.id === m.id)).map(contextItem)
    );
    const sentiment = message.sentiment && message.sentiment.label ? message.sentiment : null;
    fill($("rv-model"),
      el("span", { class: "rv-label" }, "Model, as logged:"),
      el("span", { class: "badge intent" }, message.intent || "no intent"),
      el("span", {}, message.confidence != null ? `confidence ${message.confidence.toFixed(2)}` : "no confidence"),
      sentiment ? el("span", { class: `badge sentiment-${sentiment.label}` },
        sentiment.label + (sentiment.confidence != null ? ` ${Math.round(sentiment.confidence * 100)}%` : "")) : el("span", { class: "muted" }, "no sentiment"),
      replies.length ? null : el("span", { class: "muted" }, "· no reply to judge"));
    fill($("rv-offered"),
      ...offered.slice(0, 5).map((o, i) => el("button", {
        type: "button", class: `offered${draft.intent === o.intent ? " on" : ""}`, "aria-pressed": String(draft.intent === o.intent),
        onclick: () => pickIntent(o.intent),
      }, el("kbd", {}, String(i + 1)), ` ${o.intent}`, o.confidence != null ? el("span", { class: "muted" }, ` ${o.confidence.toFixed(2)}`) : null)),
      offered.length ? null : el("span", { class: "muted" }, "no intent to offer: search with /"));
    $("rv-intent-chosen").textContent = draft.intent ? `chosen: ${draft.intent}` : "no intent chosen";
    $("rv-intent-chosen").classList.toggle("missing", !draft.intent);
    fill($("rv-entities"),
      ...draft.entities.map((e, i) => el("span", { class: "badge entity-chip" }, `${e.entity}: ${e.value}`,
        el("button", { type: "button", class: "remove", "aria-label": `remove entity ${e.entity} ${e.value}`, onclick: () => removeEntity(i) }, "×"))),
      draft.entities.length ? null : el("span", { class: "muted" }, "none"));
    for (const button of document.querySelectorAll("#rv-sentiment button")) {
      button.setAttribute("aria-pressed", String(button.dataset.sentiment === draft.sentiment));
    }
    for (const button of document.querySelectorAll("#rv-verdict button")) {
      button.setAttribute("aria-pressed", String(button.dataset.verdict === draft.reply_verdict));
    }
    $("rv-entity-help").hidden = !state.entityMode;
    const tick = $("rv-tick");
    if (tick) tick.setAttribute("aria-pressed", String(state.ticked.has(message.id)));
  }

  function pickIntent(intent) {
    state.draft.intent = intent;
    showError("");
    render();
  }

  function toggle(field, value) {
    state.draft[field] = state.draft[field] === value ? null : value;
    render();
  }

  function removeEntity(i) {
    state.draft.entities.splice(i, 1);
    render();
    $("rv-detail").focus();
  }

  // ---- entity mode -----------------------------------------------------------------------------------------

  function enterEntityMode() {
    if (!state.words.length) return showError("There is no word to mark in this message.");
    state.entityMode = true;
    state.anchor = state.cursor = 0;
    render();
  }

  function leaveEntityMode() {
    state.entityMode = false;
    $("entity-picker").hidden = true;
  }

  function moveSelection(step, extend) {
    state.cursor = Math.max(0, Math.min(state.words.length - 1, state.cursor + step));
    if (!extend) state.anchor = state.cursor;
    render();
  }

  function selectedSpan() {
    const text = state.detail.message.text || "";
    const first = state.words[Math.min(state.anchor, state.cursor)];
    const last = state.words[Math.max(state.anchor, state.cursor)];
    return { start: first.start, end: last.end, value: text.slice(first.start, last.end) };
  }

  function addEntity(name) {
    const span = selectedSpan();
    const overlapping = state.draft.entities.findIndex((e) => e.start < span.end && span.start < e.end);
    if (overlapping >= 0) state.draft.entities.splice(overlapping, 1);  // the new span replaces what it covers
    state.draft.entities.push({ entity: name, ...span });
    state.draft.entities.sort((a, b) => a.start - b.start);
    leaveEntityMode();
    render();
    $("rv-detail").focus();
  }

  // ---- pickers: a search box over a list, arrows and Enter -------------------------------------------------

  const pickers = {
    intent: { input: "intent-search", list: "intent-options", box: "intent-picker", all: () => state.detail.all_intents, pick: (v) => { pickIntent(v); $("rv-detail").focus(); } },
    entity: { input: "entity-search", list: "entity-options", box: "entity-picker", all: () => state.detail.all_entities, pick: addEntity },
  };
  const active = { intent: 0, entity: 0 };

  function matches(kind) {
    const query = $(pickers[kind].input).value.trim().toLowerCase().replace(/\s+/g, "_");
    const all = pickers[kind].all();
    const starts = all.filter((name) => name.startsWith(query));
    return starts.concat(all.filter((name) => !name.startsWith(query) && name.includes(query)));
  }

  function renderOptions(kind) {
    const picker = pickers[kind];
    const found = matches(kind);
    active[kind] = Math.max(0, Math.min(active[kind], found.length - 1));
    const list = $(picker.list);
    fill(list,
      ...found.map((name, i) => el("li", {
        id: `${kind}-option-${i}`, role: "option", class: `option${i === active[kind] ? " active" : ""}`, "aria-selected": String(i === active[kind]),
        onmousedown: (event) => { event.preventDefault(); choose(kind, name); },
      }, name)),
      found.length ? null : el("li", { class: "muted" }, "no match")
    );
    list.hidden = false;
    const input = $(picker.input);
    input.setAttribute("aria-expanded", "true");
    if (found.length) input.setAttribute("aria-activedescendant", `${kind}-option-${active[kind]}`);
    else input.removeAttribute("aria-activedescendant");
    const current = list.querySelector(".active");
    if (current) current.scrollIntoView({ block: "nearest" });
  }

  function openPicker(kind, typed) {
    const picker = pickers[kind];
    $(picker.box).hidden = false;
    const input = $(picker.input);
    input.value = typed || "";
    active[kind] = 0;
    input.focus();
    renderOptions(kind);
  }

  function closePicker(kind) {
    const picker = pickers[kind];
    $(picker.list).hidden = true;
    $(picker.input).value = "";
    $(picker.input).setAttribute("aria-expanded", "false");
    if (kind === "entity") $(picker.box).hidden = true;
  }

  function choose(kind, name) {
    closePicker(kind);
    pickers[kind].pick(name);
  }

  function pickerKeys(kind, event) {
    event.stopPropagation();  // typing in a search is not a command
    const found = matches(kind);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active[kind] += event.key === "ArrowDown" ? 1 : -1;
      renderOptions(kind);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (found.length) choose(kind, found[active[kind]]);
      else showError(`No ${kind} matches “${$(pickers[kind].input).value}”.`);
    } else if (event.key === "Escape") {
      event.preventDefault();
      closePicker(kind);
      if (kind === "entity") {
        leaveEntityMode();
        render();
      }
      $("rv-detail").focus();
    }
  }

  for (const kind of Object.keys(pickers)) {
    const input = $(pickers[kind].input);
    input.addEventListener("keydown", (event) => pickerKeys(kind, event));
    input.addEventListener("input", () => { active[kind] = 0; renderOptions(kind); });
    input.addEventListener("focus", () => { if (state.detail) renderOptions(kind); });
    input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== input) $(pickers[kind].list).hidden = true;
    }, 150));
  }

  // ---- save, skip, admin actions ---------------------------------------------------------------------------

  async function save() {
    if (!state.detail || state.saving) return;
    const draft = state.draft;
    if (!draft.intent) {
      showError("Pick an intent first: 1–5 for an offered one, / to search all.");
      return;
    }
    state.saving = true;
    const id = state.detail.message.id;
    try {
      await api("POST", `/api/review/messages/${id}/annotation`, draft);
    } catch (error) {
      // 409 (someone annotated it first), 422 (a label the domain does not have) ...: said in words, here.
      showError(`Not saved (${error.status || "network"}): ${error.message}`);
      $("rv-detail").focus();
      state.saving = false;
      return;
    }
    toast(`Saved: message #${id} is ${draft.intent}`);
    state.ticked.delete(id);
    const index = state.index;
    try {
      await loadQueue();
      await loadRecent();
      await select(index);  // the saved message left the queue: the same place holds the next one
    } catch (error) {
      showError(`Saved, but the queue did not reload: ${error.message}`);
    } finally {
      state.saving = false;
    }
  }

  async function bulkAccept() {
    const ids = [...state.ticked];
    if (!ids.length) return showError("Tick messages first (x), then A accepts the model's labels for them.");
    try {
      const result = await api("POST", "/api/review/bulk-accept", { message_ids: ids });
      state.ticked.clear();
      showTicks();
      const skipped = result.skipped.map((s) => `#${s.message_id}: ${s.reason}`).join("; ");
      showError(skipped ? `Accepted ${result.accepted.length}; skipped ${skipped}` : "");
      toast(`Accepted the model's labels for ${result.accepted.length} message(s)`);
      await loadQueue();
      await loadRecent();
      await select(state.index);
    } catch (error) {
      showError(`Bulk accept failed (${error.status || "network"}): ${error.message}`);
    }
  }

  let recent = [];
  async function loadRecent() {
    if (!isAdmin) return;
    recent = await api("GET", "/api/review/annotations?status=active&limit=10");
    fill($("recent"),
      ...recent.map((a) => el("li", { class: "item", dataset: { id: a.id } },
        el("div", { class: "row" }, el("strong", {}, a.intent), a.bulk ? el("span", { class: "badge" }, "bulk") : null,
          el("span", { class: "muted" }, `was ${a.original.intent || "none"}`)),
        el("div", { class: "row muted" }, `#${a.message_id} · ${a.annotator.name || "?"} · ${when(a.created_at)}`),
        el("button", { type: "button", class: "undo", onclick: () => undo(a.id) }, "Undo"))),
      recent.length ? null : el("li", { class: "muted" }, "none yet"));
  }

  async function undo(annotationId) {
    try {
      const undone = await api("DELETE", `/api/review/annotations/${annotationId}`);
      toast(`Undone: message #${undone.message_id} is back in the queue`);
      await loadQueue();
      await loadRecent();
      const back = state.items.findIndex((item) => item.id === undone.message_id);
      await select(back >= 0 ? back : state.index);
    } catch (error) {
      showError(`Undo failed (${error.status || "network"}): ${error.message}`);
    }
  }

  // ---- keys ------------------------------------------------------------------------------------------------

  function entityKeys(event) {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      moveSelection(event.key === "ArrowRight" ? 1 : -1, event.shiftKey);
    } else if (event.key === "Escape") {
      event.preventDefault();
      leaveEntityMode();
      render();
    } else if (event.key === "Enter") {
      event.preventDefault();
      openPicker("entity", "");
    } else if (/^[a-z]$/i.test(event.key)) {
      event.preventDefault();
      openPicker("entity", event.key.toLowerCase());
    } else {
      return false;
    }
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target.matches("input:not([type=checkbox]), select, textarea");
    if (typing) {
      if (event.key === "Escape") $("rv-detail").focus();
      return;
    }
    if (event.key === "Escape" && !state.entityMode) {
      $(state.detail ? "rv-detail" : "rv-empty").focus();  // from any control back to the message's keys
      return;
    }
    if (event.key === "?") {
      $("legend-panel").hidden = !$("legend-panel").hidden;
      return;
    }
    if (!state.detail) {
      if (event.key === "j" || event.key === "k") select(0);
      return;
    }
    if (state.entityMode && entityKeys(event)) return;
    const key = event.key;
    if (key === "Enter") {
      if (target.matches("button, a, input[type=checkbox]")) return;  // Enter on a control is that control
      event.preventDefault();
      save();
    } else if (/^[1-5]$/.test(key)) {
      const offered = state.detail.offered_intents[Number(key) - 1];
      if (offered) pickIntent(offered.intent);
      else showError(`There is no intent number ${key} on offer.`);
    } else if (key === "/") {
      event.preventDefault();
      openPicker("intent", "");
    } else if (key === "e") {
      enterEntityMode();
    } else if (key === "Backspace" && state.draft.entities.length) {
      event.preventDefault();
      removeEntity(state.draft.entities.length - 1);
    } else if (SENTIMENT_KEYS[key]) {
      toggle("sentiment", SENTIMENT_KEYS[key]);
    } else if (VERDICT_KEYS[key]) {
      toggle("reply_verdict", VERDICT_KEYS[key]);
    } else if (key === "j" || key === "s") {
      select(state.index + 1);
    } else if (key === "k") {
      select(state.index - 1);
    } else if (isAdmin && key === "x") {
      setTicked(state.detail.message.id, !state.ticked.has(state.detail.message.id));
      render();
    } else if (isAdmin && key === "A") {
      bulkAccept();
    } else if (isAdmin && key === "z") {
      if (recent.length) undo(recent[0].id);
      else showError("There is no annotation to undo.");
    }
  });

  for (const button of document.querySelectorAll("#rv-sentiment button")) {
    button.addEventListener("click", () => toggle("sentiment", button.dataset.sentiment));
  }
  for (const button of document.querySelectorAll("#rv-verdict button")) {
    button.addEventListener("click", () => toggle("reply_verdict", button.dataset.verdict));
  }
  $("entity-mode").addEventListener("click", () => { enterEntityMode(); $("rv-detail").focus(); });
  $("rv-save").addEventListener("click", save);
  $("rv-skip").addEventListener("click", () => select(state.index + 1));
  if (isAdmin) {
    $("rv-tick").addEventListener("click", () => { setTicked(state.detail.message.id, !state.ticked.has(state.detail.message.id)); render(); });
    $("bulk-accept").addEventListener("click", bulkAccept);
  }
  $("rq-reason").addEventListener("change", async () => { await loadQueue(); await select(0); });
  $("rv-empty").setAttribute("tabindex", "-1");

  (async () => {
    try {
      await loadQueue();
      await loadRecent();
      await select(0);
    } catch (error) {
      toast(error.message, true);
    }
  })();
})();

// The inbox page: queue + filtered list + transcript, kept live by server-sent events (/api/events).
"use strict";

(() => {
  const { api, el, toast, when, duration } = Inbox;
  const root = document.getElementById("inbox");
  const me = Number(document.body.dataset.agentId);
  const isAdmin = document.body.dataset.agentRole === "admin";
  const state = { selected: root.dataset.selected || null, detail: null, canned: [], agents: [], lastMessageId: 0, listLimit: 50 };
  const filters = document.getElementById("filters");

  function sentimentBadge(sentiment) {
    if (!sentiment || !sentiment.label) return null;
    const pct = sentiment.confidence != null ? ` ${Math.round(sentiment.confidence * 100)}%` : "";
    return el("span", { class: `badge sentiment-${sentiment.label}` }, sentiment.label + pct);
  }

  function slaTimer(item) {
    return el("span", { class: "sla", dataset: { due: item.sla_due_at, state: item.sla_state, responded: item.first_response_at || "" } });
  }

  function tickTimers() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".sla")) {
      if (node.dataset.responded) {
        node.textContent = node.dataset.state === "met" ? "SLA met" : "SLA missed";
        node.className = `sla ${node.dataset.state}`;
        continue;
      }
      const left = (new Date(node.dataset.due).getTime() - now) / 1000;
      node.textContent = left >= 0 ? `SLA ${duration(left)} left` : `SLA breached ${duration(left)} ago`;
      node.className = left >= 0 ? (left < 120 ? "sla warning" : "sla running") : "sla breached";
    }
    for (const node of document.querySelectorAll(".waiting")) {
      node.textContent = "waiting " + duration((now - new Date(node.dataset.since).getTime()) / 1000);
    }
  }

  async function loadQueue() {
    const items = await api("GET", "/api/escalations");
    const list = document.getElementById("queue");
    list.replaceChildren(
      ...items.map((item) =>
        el(
          "li",
          { class: `item priority-${item.priority}${item.conversation_id === state.selected ? " selected" : ""}`, dataset: { id: item.conversation_id }, onclick: () => select(item.conversation_id) },
          el("div", { class: "row" }, el("strong", {}, `P${item.priority} · ${item.reason.replace("_", " ")}`), slaTimer(item)),
          el("div", { class: "row muted" }, `${item.channel || ""} · ${item.customer_identity || item.conversation_id}`, sentimentBadge(item.sentiment)),
          el("div", { class: "row" }, el("span", { class: "snippet" }, item.last_message ? item.last_message.text || "" : item.note || "")),
          el("div", { class: "row muted" }, item.first_response_at
            ? el("span", {}, "first reply after " + duration((new Date(item.first_response_at) - new Date(item.created_at)) / 1000))
            : el("span", { class: "waiting", dataset: { since: item.created_at } }), item.assignee ? `→ ${item.assignee.name}` : "unassigned")
        )
      )
    );
    document.getElementById("queue-count").textContent = items.length ? `(${items.length})` : "";
    document.title = items.length ? `(${items.length}) Coverline inbox` : "Coverline inbox";  // seen from other tabs
    tickTimers();
  }

  async function loadList() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
    params.set("limit", String(state.listLimit));
    const page = await api("GET", "/api/conversations?" + params.toString());
    const channelSelect = filters.elements.channel;
    const chosen = channelSelect.value;
    channelSelect.replaceChildren(el("option", { value: "" }, "any channel"), ...page.channels.map((c) => el("option", { value: c, selected: c === chosen }, c)));
    document.getElementById("conversations").replaceChildren(
      ...page.items.map((c) =>
        el(
          "li",
          { class: `item status-${c.status}${c.id === state.selected ? " selected" : ""}`, dataset: { id: c.id }, onclick: () => select(c.id) },
          el("div", { class: "row" }, el("strong", {}, c.customer_identity || c.id), el("span", { class: `badge status ${c.status}` }, c.status)),
          el("div", { class: "row muted" }, c.channel, sentimentBadge(c.sentiment), c.assignee ? `→ ${c.assignee.name}` : ""),
          el("div", { class: "row snippet" }, c.last_message ? `${c.last_message.author}: ${c.last_message.text || ""}` : "")
        )
      )
    );
    document.getElementById("list-count").textContent = `(${page.total})`;
    document.getElementById("list-more").hidden = page.items.length >= page.total || state.listLimit >= 200;
  }

  const ATTACHMENT_NAMES = { image: "Photo", video: "Video", audio: "Audio", file: "Document", sticker: "Sticker", location: "Location", contact: "Contact", link: "Link" };

  // Only https links open from the transcript: a customer's payload must never become a javascript: URL.
  function safeUrl(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  // Files Telegram, WhatsApp and WeChat keep by id open through the inbox, which asks Rasa (it holds the
  // channel's token) for them; Messenger and X send token-free links, opened directly.
  const MEDIA_CHANNELS = ["telegram", "whatsapp", "wechat"];

  function attachmentHref(a, m, index) {
    if (a.media_id && MEDIA_CHANNELS.includes(m.channel)) {
      const conversation = encodeURIComponent(m.conversation_id || state.selected);
      return `/api/conversations/${conversation}/messages/${m.id}/attachments/${index}`;
    }
    if (a.url) return safeUrl(a.url);
    if (a.latitude != null && a.longitude != null) return `https://www.openstreetmap.org/?mlat=${a.latitude}&mlon=${a.longitude}#map=17/${a.latitude}/${a.longitude}`;
    return null;
  }

  function attachmentItem(a, m, index) {
    const parts = [a.voice ? "Voice note" : ATTACHMENT_NAMES[a.type] || a.type];
    if (a.file_name) parts.push(a.file_name);
    if (a.title) parts.push(a.title);
    if (a.address) parts.push(a.address);
    if (a.latitude != null && a.longitude != null) parts.push(`${a.latitude}, ${a.longitude}`);
    if (a.phones) parts.push(a.phones.join(", "));
    if (a.mime_type && !a.file_name) parts.push(a.mime_type);
    if (a.caption) parts.push(a.caption);
    const href = attachmentHref(a, m, index);
    const label = parts.join(" · ");
    const proxied = href && href.startsWith("/api/");
    const thumbnail = proxied && a.type === "image" ? el("img", { class: "thumbnail", src: href, alt: label, loading: "lazy" }) : null;
    const note = !href && a.media_id ? el("span", { class: "muted" }, ` (kept by ${m.channel}, media id ${a.media_id})`) : null;
    return el(
      "li",
      { class: `attachment ${a.type}` },
      href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, thumbnail, thumbnail ? null : label) : label,
      thumbnail ? el("div", { class: "muted" }, label) : null,
      note
    );
  }

  // A tapped button reads as its title, as the customer saw it; a payload the page sent by itself
  // (the web chat's /greet) is shown muted, so it is not taken for something the customer typed.
  function messageText(m) {
    const button = m.payload && m.payload.button;
    if (button && button.title) return el("div", { class: "text" }, button.title, " ", el("span", { class: "badge source" }, "button"));
    if (button) return el("div", { class: "text muted payload" }, button.payload);
    return el("div", { class: "text" }, m.text || "");
  }

  // Card numbers, SSNs, emails and phones arrive masked; the original is one audited request away
  // (admins and the conversation's assignee; the server says no to anyone else).
  async function reveal(m, node) {
    try {
      const original = await api("POST", `/api/conversations/${encodeURIComponent(m.conversation_id)}/messages/${m.id}/reveal`);
      node.replaceWith(messageItem(original, true));
    } catch (error) {
      toast(error.message, true);
    }
  }

  function messageItem(m, revealed) {
    const attachments = m.payload && Array.isArray(m.payload.attachments) ? m.payload.attachments : [];
    const details = [];
    if (m.intent) details.push(el("span", { class: "badge intent" }, `${m.intent}${m.confidence != null ? " " + m.confidence.toFixed(2) : ""}`));
    const sentiment = sentimentBadge(m.sentiment);
    if (sentiment) details.push(sentiment);
    if (m.answer_source) details.push(el("span", { class: "badge source" }, m.answer_source + (m.retrieval_score != null ? ` ${m.retrieval_score.toFixed(2)}` : "")));
    if (m.masked && m.masked.length) {
      details.push(revealed
        ? el("span", { class: "badge source" }, "original shown · audited")
        : el("button", { type: "button", class: "reveal", onclick: (event) => reveal(m, event.target.closest("li")) }, `Show original (${m.masked.join(", ")})`));
    }
    return el(
      "li",
      { class: `message ${m.author}`, dataset: { id: m.id } },
      el("div", { class: "row muted" }, el("strong", {}, m.agent_name ? `${m.agent_name} (agent)` : m.author), ` · ${m.channel} · ${when(m.sent_at)}`),
      m.text || !attachments.length ? messageText(m) : null,
      attachments.length ? el("ul", { class: "attachments" }, attachments.map((a, index) => attachmentItem(a, m, index))) : null,
      details.length ? el("div", { class: "row" }, details) : null
    );
  }

  function appendMessages(messages) {
    const list = document.getElementById("messages");
    for (const m of messages) {
      if (m.id <= state.lastMessageId || list.querySelector(`[data-id="${m.id}"]`)) continue;
      list.append(messageItem(m));
      state.lastMessageId = Math.max(state.lastMessageId, m.id);
    }
    list.scrollTop = list.scrollHeight;
  }

  function renderDetail(d) {
    state.detail = d;
    document.getElementById("empty-state").hidden = true;
    document.getElementById("conversation").hidden = false;
    document.getElementById("notes-panel").hidden = false;
    document.getElementById("conv-title").textContent = d.customer_identity || d.id;
    document.getElementById("conv-meta").replaceChildren(
      el("span", { class: `badge status ${d.status}` }, d.status), ` ${d.channel} · conversation ${d.id} · `,
      ...[d.assignee ? `assigned to ${d.assignee.name}` : "unassigned", " ", sentimentBadge(d.sentiment)].filter((part) => part !== null)
    );
    const canAct = d.status === "open";
    document.querySelector('[data-action="take-over"]').disabled = d.status === "open" && d.assignee && d.assignee.id === me;
    document.querySelector('[data-action="hand-back"]').disabled = !(d.status === "open" || d.status === "escalated");
    document.querySelector('[data-action="resolve"]').disabled = d.status === "resolved";
    document.querySelector('[data-action="assign-me"]').disabled = d.assignee && d.assignee.id === me;
    const replyForm = document.getElementById("reply-form");
    replyForm.elements.text.disabled = !canAct;
    replyForm.elements.text.placeholder = canAct ? "Reply to the customer (/ for canned responses, Ctrl+Enter sends)" : "Take the conversation over to reply";
    document.getElementById("messages").replaceChildren();
    state.lastMessageId = 0;
    appendMessages(d.messages);
    document.getElementById("notes").replaceChildren(
      ...d.notes.map((n) => el("li", { class: "note" }, el("div", { class: "muted" }, `${n.agent_name} · ${when(n.created_at)}`), el("div", {}, n.body)))
    );
    document.getElementById("escalations").replaceChildren(
      ...d.escalations.map((e) => el("li", {}, `P${e.priority} ${e.reason} · ${when(e.created_at)} · ${e.open ? "open" : e.outcome || "closed"}`))
    );
    for (const node of document.querySelectorAll(".items .item")) node.classList.toggle("selected", node.dataset.id === d.id);
  }

  async function select(id) {
    state.selected = id;
    history.replaceState(null, "", "/conversations/" + encodeURIComponent(id));
    try {
      renderDetail(await api("GET", "/api/conversations/" + encodeURIComponent(id)));
    } catch (error) {
      toast(error.message, true);
    }
  }

  async function act(action) {
    if (!state.selected) return;
    const path = "/api/conversations/" + encodeURIComponent(state.selected);
    try {
      if (action === "assign-me") await api("POST", path + "/assign", { agent_id: me });
      else await api("POST", `${path}/${action}`);
      toast({ "assign-me": "Assigned to you", "take-over": "You have taken over; the bot is paused", "hand-back": "Handed back to the bot", resolve: "Resolved" }[action]);
      await Promise.all([select(state.selected), loadQueue(), loadList()]);
    } catch (error) {
      toast(error.message, true);
    }
  }

  document.querySelectorAll("[data-action]").forEach((button) => button.addEventListener("click", () => act(button.dataset.action)));

  const assignSelect = document.getElementById("assign-to");
  if (isAdmin) {
    assignSelect.hidden = false;
    assignSelect.addEventListener("change", async () => {
      if (!state.selected || !assignSelect.value) return;
      try {
        await api("POST", `/api/conversations/${encodeURIComponent(state.selected)}/assign`, { agent_id: assignSelect.value === "none" ? null : Number(assignSelect.value) });
        toast("Assigned");
        await Promise.all([select(state.selected), loadList(), loadQueue()]);
      } catch (error) {
        toast(error.message, true);
      }
      assignSelect.value = "";
    });
  }

  const replyForm = document.getElementById("reply-form");
  const suggestions = document.getElementById("canned-suggestions");
  replyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = replyForm.elements.text.value.trim();
    if (!text || !state.selected) return;
    try {
      const result = await api("POST", `/api/conversations/${encodeURIComponent(state.selected)}/replies`, { text });
      replyForm.elements.text.value = "";
      toast(result.status === "sent" ? "Reply sent" : result.detail, result.status !== "sent");
    } catch (error) {
      toast(error.message, true);
    }
  });
  replyForm.elements.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) replyForm.requestSubmit();  // Ctrl+Enter sends
  });
  replyForm.elements.text.addEventListener("input", () => {
    const value = replyForm.elements.text.value;
    const match = /^\/([A-Za-z0-9_-]*)$/.exec(value.trim());
    if (!match) return (suggestions.hidden = true);
    const found = state.canned.filter((c) => c.short_code.startsWith(match[1].toLowerCase())).slice(0, 8);
    suggestions.replaceChildren(
      ...found.map((c) =>
        el("button", { type: "button", class: "suggestion", onclick: () => { replyForm.elements.text.value = c.content; suggestions.hidden = true; replyForm.elements.text.focus(); } },
          el("strong", {}, "/" + c.short_code), " ", c.content.slice(0, 80))
      )
    );
    suggestions.hidden = found.length === 0;
  });

  document.getElementById("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = form.elements.body.value.trim();
    if (!body || !state.selected) return;
    try {
      await api("POST", `/api/conversations/${encodeURIComponent(state.selected)}/notes`, { body });
      form.elements.body.value = "";
      await select(state.selected);
    } catch (error) {
      toast(error.message, true);
    }
  });

  document.getElementById("list-more").addEventListener("click", () => {
    state.listLimit = Math.min(state.listLimit + 50, 200);
    loadList().catch((e) => toast(e.message, true));
  });

  let searchTimer = null;
  filters.addEventListener("input", () => {
    state.listLimit = 50;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadList().catch((e) => toast(e.message, true)), 250);
  });
  filters.addEventListener("submit", (event) => event.preventDefault());

  // Live updates: one EventSource; list and queue refresh at most every 500 ms however busy it gets.
  let refreshTimer = null;
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      Promise.all([loadQueue(), loadList()]).catch((e) => toast(e.message, true));
    }, 500);
  }
  function connect() {
    const source = new EventSource("/api/events");
    source.addEventListener("message", (event) => {
      const m = JSON.parse(event.data);
      if (m.conversation_id === state.selected) appendMessages([m]);
      scheduleRefresh();
    });
    source.addEventListener("escalation", (event) => {
      const e = JSON.parse(event.data);
      toast(`New escalation (P${e.priority}, ${e.reason.replace("_", " ")})`);
      scheduleRefresh();
    });
    source.addEventListener("conversation", (event) => {
      const c = JSON.parse(event.data);
      if (c.conversation_id === state.selected && c.agent_id !== me) select(state.selected);
      scheduleRefresh();
    });
  }

  async function start() {
    const [canned, agents] = await Promise.all([api("GET", "/api/canned-responses"), api("GET", "/api/agents/directory")]);
    state.canned = canned;
    state.agents = agents;
    assignSelect.append(el("option", { value: "none" }, "nobody"), ...agents.map((a) => el("option", { value: a.id }, a.name)));
    filters.elements.assignee.append(...agents.filter((a) => a.id !== me).map((a) => el("option", { value: a.id }, a.name)));
    await Promise.all([loadQueue(), loadList()]);
    if (state.selected) await select(state.selected);
    setInterval(tickTimers, 1000);
    connect();
  }
  start().catch((error) => toast(error.message, true));
})();

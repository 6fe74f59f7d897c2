// Admin pages: agents, canned responses, audit log — all through the JSON API.
"use strict";

(() => {
  const { api, el, toast, when } = Inbox;
  const me = Number(document.body.dataset.agentId);

  async function loadAgents() {
    const agents = await api("GET", "/api/agents");
    document.getElementById("agents").replaceChildren(
      ...agents.map((a) =>
        el("tr", {},
          el("td", {}, a.name), el("td", {}, a.email), el("td", {}, a.role), el("td", {}, a.active ? "yes" : "no"),
          el("td", {}, when(a.last_login_at)),
          el("td", {},
            a.id === me ? "you" : el("button", { type: "button", onclick: () => update(a.id, { active: !a.active }) }, a.active ? "Disable" : "Enable"),
            a.id === me ? null : el("button", { type: "button", onclick: () => update(a.id, { role: a.role === "admin" ? "agent" : "admin" }) }, a.role === "admin" ? "Make agent" : "Make admin"),
            el("button", { type: "button", onclick: () => {
              const password = window.prompt(`New password for ${a.name} (10+ characters; their sessions end):`);
              if (password) update(a.id, { password });
            } }, "Set password")
          )
        )
      )
    );
  }

  async function update(id, change) {
    try {
      await api("PATCH", `/api/agents/${id}`, change);
      if (change.password) toast("Password set");
      await loadAgents();
    } catch (error) {
      toast(error.message, true);
    }
  }

  async function loadCanned() {
    const items = await api("GET", "/api/canned-responses");
    document.getElementById("canned").replaceChildren(
      ...items.map((c) =>
        el("tr", {}, el("td", {}, el("code", {}, "/" + c.short_code)), el("td", {}, c.content),
          el("td", {}, el("button", { type: "button", onclick: async () => {
            try { await api("DELETE", `/api/canned-responses/${c.id}`); await loadCanned(); } catch (error) { toast(error.message, true); }
          } }, "Delete")))
      )
    );
  }

  // Failed logins have no agent; changes made with `python -m inbox` have no actor either.
  function actor(entry) {
    if (entry.agent_name) return entry.agent_name;
    if (entry.action === "login_failed" && entry.detail) return entry.detail.email;
    return "command line";
  }

  let oldestAudit = null;
  async function loadAudit(more) {
    const form = document.getElementById("audit-filters");
    const params = new URLSearchParams({ limit: "100" });
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    if (more && oldestAudit) params.set("before_id", oldestAudit);
    const entries = await api("GET", "/api/audit?" + params.toString());
    const rows = entries.map((e) =>
      el("tr", {}, el("td", {}, when(e.at)), el("td", {}, actor(e)), el("td", {}, e.action + (e.target_agent_name ? ` → ${e.target_agent_name}` : "")),
        el("td", {}, e.conversation_id ? el("a", { href: "/conversations/" + encodeURIComponent(e.conversation_id) }, e.conversation_id) : ""),
        el("td", {}, e.detail ? JSON.stringify(e.detail) : ""), el("td", {}, e.ip || ""))
    );
    const body = document.getElementById("audit");
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    if (entries.length) oldestAudit = entries[entries.length - 1].id;
  }

  function submitter(formId, handler) {
    const form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      try {
        await handler(data);
        form.reset();
      } catch (error) {
        toast(error.message, true);
      }
    });
  }

  if (document.getElementById("agents")) {
    loadAgents().catch((e) => toast(e.message, true));
    submitter("agent-form", async (data) => { await api("POST", "/api/agents", data); toast("Agent created"); await loadAgents(); });
  }
  if (document.getElementById("canned")) {
    loadCanned().catch((e) => toast(e.message, true));
    submitter("canned-form", async (data) => { await api("POST", "/api/canned-responses", data); toast("Saved"); await loadCanned(); });
  }
  if (document.getElementById("audit")) {
    loadAudit(false).catch((e) => toast(e.message, true));
    const filters = document.getElementById("audit-filters");
    filters.addEventListener("change", () => { oldestAudit = null; loadAudit(false).catch((e) => toast(e.message, true)); });
    filters.addEventListener("submit", (event) => event.preventDefault());
    document.getElementById("audit-more").addEventListener("click", () => loadAudit(true).catch((e) => toast(e.message, true)));
  }
})();

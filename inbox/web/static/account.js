// The account page: change one's password, manage one's API tokens.
"use strict";

(() => {
  const { api, el, toast, when } = Inbox;

  async function loadTokens() {
    const tokens = await api("GET", "/api/auth/tokens");
    document.getElementById("tokens").replaceChildren(
      ...tokens.map((t) =>
        el("tr", {}, el("td", {}, t.label || ""), el("td", {}, when(t.created_at)), el("td", {}, when(t.expires_at)),
          el("td", {}, when(t.last_seen_at)),
          el("td", {}, el("button", { type: "button", onclick: async () => {
            try { await api("DELETE", `/api/auth/tokens/${t.id}`); await loadTokens(); } catch (error) { toast(error.message, true); }
          } }, "Revoke")))
      )
    );
  }

  document.getElementById("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await api("POST", "/api/auth/password", Object.fromEntries(new FormData(form)));
      form.reset();
      toast("Password changed");
      await loadTokens();
    } catch (error) {
      toast(error.message, true);
    }
  });

  document.getElementById("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const data = Object.fromEntries(new FormData(form));
    try {
      const created = await api("POST", "/api/auth/tokens", { label: data.label, days: Number(data.days) });
      const shown = document.getElementById("new-token");
      shown.replaceChildren("Copy it now, it is not shown again: ", el("code", {}, created.token));
      shown.hidden = false;
      form.reset();
      await loadTokens();
    } catch (error) {
      toast(error.message, true);
    }
  });

  loadTokens().catch((error) => toast(error.message, true));
})();

// The content library page (content.html): filter the items, edit one, retire / restore it, and preview it as a
// channel shows it. Everything goes through /api/content; the preview's HTML is escaped by the server.
"use strict";

(() => {
  const { api, el, toast } = Inbox;
  const LISTS = ["product_lines", "life_events", "claim_stages", "incident_types"];
  const filters = document.getElementById("content-filters");
  const form = document.getElementById("content-form");
  const problems = document.getElementById("content-problems");
  const channel = document.getElementById("preview-channel");
  let current = null; // the item being edited, or null for a new one
  let searchTimer = null;

  async function loadList() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
    try {
      const page = await api("GET", "/api/content?" + params.toString());
      document.getElementById("content-count").textContent =
        `${page.total} item${page.total === 1 ? "" : "s"}` + (page.total > page.items.length ? `, first ${page.items.length} shown` : "");
      document.getElementById("content-rows").replaceChildren(...page.items.map(row));
    } catch (error) {
      toast(error.message, true);
    }
  }

  function row(item) {
    const valid = [item.valid_from || "…", item.valid_to || "…"].join(" – ");
    const selected = current && current.id === item.id ? " selected" : "";
    return el("tr", { class: (item.retired_at ? "retired" : "live") + selected, dataset: { id: item.id } },
      el("td", {}, el("code", {}, item.slug)),
      el("td", {}, item.title),
      el("td", {}, item.category.replace(/_/g, " "), item.marketing ? el("span", { class: "badge marketing" }, "marketing") : null),
      el("td", {}, item.product_lines.length ? item.product_lines.join(", ") : el("span", { class: "muted" }, "any")),
      el("td", {}, item.valid_from || item.valid_to ? valid : el("span", { class: "muted" }, "always")),
      el("td", {}, item.retired_at ? el("span", { class: "badge retired" }, "retired") : el("span", { class: "badge live" }, "live")),
      el("td", {}, el("button", { type: "button", "aria-label": `Edit ${item.slug}`, onclick: () => edit(item.id) }, "Edit")));
  }

  function fill(item) {
    form.reset();
    form.elements.slug.value = item ? item.slug : "";
    form.elements.slug.disabled = Boolean(item);
    for (const name of ["category", "title", "summary", "body", "link", "image", "valid_from", "valid_to", "locale"]) {
      if (item) form.elements[name].value = item[name] || "";
    }
    if (item) {
      form.elements.offers_product.value = item.offers_product || "";
      form.elements.marketing.checked = item.marketing;
      form.elements.months.value = item.months.join(", ");
      for (const name of LISTS) {
        for (const box of form.querySelectorAll(`input[name="${name}"]`)) box.checked = item[name].includes(box.value);
      }
    }
    document.getElementById("editor-title").textContent = item ? `Edit ${item.slug}` : "New item";
    document.getElementById("content-save").textContent = item ? "Save changes" : "Create";
    document.getElementById("content-retire").hidden = !item || Boolean(item.retired_at);
    document.getElementById("content-restore").hidden = !item || !item.retired_at;
    document.getElementById("content-state").textContent = item
      ? (item.retired_at ? "Retired: never recommended. " : "Live. ") +
        (item.source && item.source !== "inbox" ? `From ${item.source}.` : "Made or changed in the inbox.")
      : "";
    problems.hidden = true;
  }

  function payload() {
    const data = {};
    for (const name of ["category", "title", "summary", "body", "link", "image", "offers_product", "valid_from", "valid_to", "locale"]) {
      const value = form.elements[name].value.trim();
      data[name] = value === "" ? null : value;
    }
    for (const name of LISTS) {
      data[name] = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
    }
    const months = form.elements.months.value.split(/[\s,;]+/).filter(Boolean);
    data.months = months.map(Number);
    data.marketing = form.elements.marketing.checked;
    if (!current) data.slug = form.elements.slug.value.trim();
    return data;
  }

  async function edit(id) {
    try {
      current = await api("GET", `/api/content/${id}`);
      fill(current);
      channel.disabled = false;
      await preview();
      form.elements.title.focus();
      await loadList();
    } catch (error) {
      toast(error.message, true);
    }
  }

  function showProblems(message) {
    problems.replaceChildren(...message.split("; ").map((line) => el("span", {}, line)));
    problems.hidden = false;
  }

  async function save(event) {
    event.preventDefault();
    try {
      const saved = current
        ? await api("PATCH", `/api/content/${current.id}`, payload())
        : await api("POST", "/api/content", payload());
      toast(current ? "Saved" : "Created");
      await edit(saved.id);
    } catch (error) {
      showProblems(error.message);
      toast(error.message, true);
    }
  }

  async function change(action) {
    if (!current) return;
    try {
      await api("POST", `/api/content/${current.id}/${action}`);
      toast(action === "retire" ? "Retired: it will not be recommended" : "Restored");
      await edit(current.id);
    } catch (error) {
      toast(error.message, true);
    }
  }

  async function preview() {
    if (!current) return;
    try {
      const shown = await api("GET", `/api/content/${current.id}/preview?channel=${encodeURIComponent(channel.value)}`);
      document.getElementById("preview-empty").hidden = true;
      // the server renders every value escaped (inbox/services/content_preview.py), and the CSP runs no inline script
      document.getElementById("preview-pane").innerHTML = shown.html;
      document.getElementById("preview-json").textContent = JSON.stringify(shown.messages, null, 2);
      document.getElementById("preview-json-box").hidden = false;
    } catch (error) {
      toast(error.message, true);
    }
  }

  filters.addEventListener("change", loadList);
  filters.addEventListener("submit", (event) => { event.preventDefault(); loadList(); });
  filters.elements.q.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadList, 250); });
  form.addEventListener("submit", save);
  channel.addEventListener("change", preview);
  document.getElementById("content-retire").addEventListener("click", () => change("retire"));
  document.getElementById("content-restore").addEventListener("click", () => change("restore"));
  document.getElementById("content-new").addEventListener("click", () => {
    current = null;
    fill(null);
    channel.disabled = true;
    document.getElementById("preview-pane").replaceChildren();
    document.getElementById("preview-json-box").hidden = true;
    document.getElementById("preview-empty").hidden = false;
    form.elements.slug.focus();
  });
  fill(null);
  loadList();
})();

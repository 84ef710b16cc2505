// Sotto's voice history: what was kept, with a delete button per interaction.
// Text is always set with textContent, never parsed as HTML: transcripts are user speech.

const COLUMNS = [
  ["started_at", "Time"],
  ["satellite_name", "Satellite"],
  ["area", "Area"],
  ["trigger", "Started by"],
  ["transcript", "Heard"],
  ["recognized_on", "Recognised on"],
  ["outcome", "Outcome"],
  ["response_text", "Reply"],
  ["audio_kept", "Audio kept"],
];

class SottoHistoryPanel extends HTMLElement {
  constructor() {
    super();
    this._hass = null;
    this._loaded = false;
    this.attachShadow({ mode: "open" });
    this.shadowRoot.innerHTML = `
      <style>
        :host { display: block; padding: 16px; font-family: var(--paper-font-body1_-_font-family, sans-serif); }
        table { border-collapse: collapse; width: 100%; }
        th, td { border-bottom: 1px solid var(--divider-color, #ddd); padding: 6px; text-align: left; }
        .empty { color: var(--secondary-text-color, #666); }
      </style>
      <h1>Voice history</h1>
      <p><button id="refresh">Refresh</button> <button id="delete-all">Delete all</button>
         <span id="status" role="status"></span></p>
      <table><thead><tr></tr></thead><tbody></tbody></table>
      <p class="empty" hidden>Nothing is kept.</p>`;
    const head = this.shadowRoot.querySelector("thead tr");
    for (const [, title] of COLUMNS) {
      const th = document.createElement("th");
      th.textContent = title;
      head.appendChild(th);
    }
    head.appendChild(document.createElement("th"));
    this.shadowRoot.getElementById("refresh").addEventListener("click", () => this.load());
    this.shadowRoot.getElementById("delete-all").addEventListener("click", () => {
      if (window.confirm("Delete the whole voice history, everywhere?")) this.remove(undefined);
    });
  }

  set hass(hass) {
    this._hass = hass;
    if (!this._loaded) {
      this._loaded = true;
      this.load();
    }
  }

  get hass() {
    return this._hass;
  }

  async load() {
    const result = await this._hass.callWS({ type: "sotto/history/list" });
    this.render(result.interactions);
  }

  async remove(interactionId) {
    const message = { type: "sotto/history/delete" };
    if (interactionId !== undefined) message.interaction_id = interactionId;
    const removed = await this._hass.callWS(message);
    this.shadowRoot.getElementById("status").textContent =
      `Deleted ${removed.history.interactions} interaction(s).`;
    await this.load();
  }

  render(interactions) {
    const body = this.shadowRoot.querySelector("tbody");
    body.replaceChildren();
    for (const item of interactions) {
      const row = document.createElement("tr");
      row.dataset.id = String(item.id);
      for (const [key] of COLUMNS) {
        const cell = document.createElement("td");
        let value = item[key];
        if (key === "started_at") value = new Date(value).toLocaleString();
        if (key === "audio_kept") value = value ? "yes" : "no";
        if (key === "recognized_on") value = value === "satellite" ? "satellite (no audio sent)" : "Home Assistant";
        cell.textContent = value ?? "";
        cell.className = key;
        row.appendChild(cell);
      }
      const action = document.createElement("td");
      const button = document.createElement("button");
      button.className = "delete";
      button.textContent = "Delete";
      button.addEventListener("click", () => this.remove(item.id));
      action.appendChild(button);
      row.appendChild(action);
      body.appendChild(row);
    }
    this.shadowRoot.querySelector(".empty").hidden = interactions.length > 0;
  }
}

customElements.define("sotto-history-panel", SottoHistoryPanel);

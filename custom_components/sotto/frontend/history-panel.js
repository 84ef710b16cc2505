// Sotto's Voice history panel, embedded in HA's frontend (not an iframe): HA gives it
// `hass`, `narrow`, `route` and `panel` as it gives its own panels. It uses HA's own
// elements: the menu button, buttons and its data table (which HA loads with its settings
// pages, so the panel loads that page's code first), with HA's theme variables.
// Text from the history is always given as strings (shown as text, never parsed as HTML):
// transcripts are user speech.

const SOURCE = "component.sotto";
const ANY = "";
const DAY_MS = 24 * 60 * 60 * 1000;
const PERIODS = [
  ["", "Any time"],
  ["1", "Last 24 hours"],
  ["7", "Last 7 days"],
  ["30", "Last 30 days"],
];

// HA loads ha-data-table (and its dialogs' buttons) with its settings pages: load the
// entities page's code the way HA's own panel resolver does when a user opens it.
async function loadHaElements() {
  if (customElements.get("ha-data-table")) return;
  await customElements.whenDefined("partial-panel-resolver");
  const resolver = document.createElement("partial-panel-resolver");
  const { routes } = resolver._getRoutes({
    config: { component_name: "config", url_path: "config" },
  });
  await routes.config.load();
  await customElements.whenDefined("ha-panel-config");
  const config = document.createElement("ha-panel-config");
  await config.routerOptions.routes.entities.load();
  await customElements.whenDefined("ha-data-table");
}

function element(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function count(number, noun) {
  return `${number} ${noun}${number === 1 ? "" : "s"}`;
}

function option(value, label, selected) {
  return element("option", { value, textContent: label, selected: value === selected });
}

const STYLE = `
  :host { display: block; height: 100%; background: var(--primary-background-color);
    color: var(--primary-text-color); font-family: var(--ha-font-family-body, Roboto, sans-serif); }
  .page { display: flex; flex-direction: column; height: 100%; }
  .toolbar { display: flex; align-items: center; gap: 4px; height: var(--header-height, 56px);
    padding: 0 12px; box-sizing: border-box; flex: none;
    background: var(--app-header-background-color, var(--primary-color));
    color: var(--app-header-text-color, var(--text-primary-color, white));
    border-bottom: var(--app-header-border-bottom, none); }
  .toolbar .title { flex: 1; margin-inline-start: 12px; font-size: var(--ha-font-size-xl, 20px);
    font-weight: var(--ha-font-weight-normal, 400); white-space: nowrap; overflow: hidden;
    text-overflow: ellipsis; }
  .toolbar ha-button { --ha-button-text-color: var(--app-header-text-color, white); }
  .filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; padding: 12px 16px 4px; }
  .filters label { display: flex; flex-direction: column; gap: 4px; font-size: 12px;
    color: var(--secondary-text-color); }
  select { min-width: 150px; height: 40px; padding: 0 8px; font: inherit; font-size: 14px;
    color: var(--primary-text-color); background: var(--card-background-color, white);
    border: 1px solid var(--divider-color); border-radius: var(--ha-border-radius-sm, 4px); }
  .count { flex: 1; text-align: end; font-size: 14px; color: var(--secondary-text-color); }
  .status { padding: 0 16px; min-height: 20px; font-size: 14px; color: var(--secondary-text-color); }
  .status.error { color: var(--error-color); }
  .table { flex: 1; min-height: 0; padding: 0 16px 16px; }
  ha-data-table { height: 100%; --data-table-border-width: 1px; }
  dialog { border: none; border-radius: var(--ha-dialog-border-radius, 24px); padding: 24px;
    max-width: min(90vw, 480px); background: var(--card-background-color, white);
    color: var(--primary-text-color); box-shadow: var(--ha-box-shadow-l, 0 8px 24px rgba(0,0,0,.3)); }
  dialog::backdrop { background: rgba(0, 0, 0, 0.32); }
  dialog h2 { margin: 0 0 12px; font-size: 22px; font-weight: 400; }
  dialog p { margin: 0 0 16px; color: var(--secondary-text-color); }
  dialog .actions { display: flex; justify-content: flex-end; gap: 8px; margin-top: 8px; }
  dialog audio { width: 100%; }
  .narrow .filters select { min-width: 110px; }
  .narrow .toolbar .title { margin-inline-start: 4px; font-size: 18px; }
`;

class SottoHistoryPanel extends HTMLElement {
  constructor() {
    super();
    this._hass = null;
    this._narrow = false;
    this._rows = [];
    this._filters = { satellite: ANY, outcome: ANY, period: ANY };
    this._localize = null;
    this._started = false;
    this.attachShadow({ mode: "open" });
  }

  set hass(hass) {
    this._hass = hass;
    if (this._menu) this._menu.hass = hass;
    if (!this._started) {
      this._started = true;
      this._start();
    }
  }

  get hass() {
    return this._hass;
  }

  set narrow(narrow) {
    this._narrow = Boolean(narrow);
    if (this._menu) this._menu.narrow = this._narrow;
    if (this._table) this._render();
  }

  get narrow() {
    return this._narrow;
  }

  set route(route) {
    this._route = route;
  }

  set panel(panel) {
    this._panel = panel;
  }

  async _start() {
    this._build();
    try {
      await loadHaElements();
    } catch (err) {
      this._say(`Home Assistant's data table could not be loaded: ${err}`, true);
      return;
    }
    await this._hass.loadBackendTranslation("selector", "sotto");
    this._localize = await this._hass.loadBackendTranslation("entity", "sotto");
    this._table = element("ha-data-table", {
      id: "table",
      noDataText: "No voice history is kept.",
      autoHeight: true,
    });
    this._tableBox.append(this._table);
    await this.load();
    await this._follow();
  }

  // The list follows the history while the panel is shown: a command spoken (or a purge
  // run elsewhere) while it is open appears without a reload.
  async _follow() {
    if (this._unsubscribe || !this._table || !this.isConnected) return;
    this._unsubscribe = this._hass.connection.subscribeMessage(() => this.load(), {
      type: "sotto/history/subscribe",
    });
  }

  connectedCallback() {
    if (this._table) this.load().then(() => this._follow());
  }

  disconnectedCallback() {
    const unsubscribe = this._unsubscribe;
    this._unsubscribe = undefined;
    if (unsubscribe) unsubscribe.then((stop) => stop()).catch(() => {});
  }

  _build() {
    this._menu = element("ha-menu-button", { hass: this._hass, narrow: this._narrow });
    this._status = element("div", { class: "status", role: "status" });
    this._count = element("span", { class: "count" });
    this._filterBox = element("div", { class: "filters" });
    this._tableBox = element("div", { class: "table" });
    this._dialog = element("dialog");
    const toolbar = element("div", { class: "toolbar" }, [
      this._menu,
      element("div", { class: "title", textContent: "Voice history" }),
      this._button("Export", "export", () => this.export()),
      this._button("Delete all", "delete-all", () => this.confirmDelete(undefined)),
    ]);
    const style = element("style", { textContent: STYLE });
    const page = element("div", { class: "page" }, [
      toolbar,
      this._filterBox,
      this._status,
      this._tableBox,
      this._dialog,
    ]);
    this.shadowRoot.replaceChildren(style, page);
  }

  _button(label, id, action, variant) {
    const button = element("ha-button", { id, onclick: action, textContent: label });
    button.setAttribute("appearance", "plain");
    if (variant) button.setAttribute("variant", variant);
    return button;
  }

  _label(kind, value) {
    if (value === null || value === undefined || value === "") return "";
    const key =
      kind === "wake_word"
        ? `${SOURCE}.entity.select.wake_word.state.${value}`
        : `${SOURCE}.selector.history_${kind}.options.${value}`;
    return (this._localize && this._localize(key)) || String(value).replaceAll("_", " ");
  }

  async load() {
    try {
      const result = await this._hass.callWS({ type: "sotto/history/list" });
      this._rows = result.interactions.map((item) => this._row(item));
    } catch (err) {
      this._say(`The voice history could not be read: ${err.message || err}`, true);
      return;
    }
    this._render();
  }

  _row(item) {
    const started = new Date(item.started_at);
    return {
      id: String(item.id),
      interaction_id: item.id,
      started_at: item.started_at,
      started: started.getTime(),
      time: started.toLocaleString(this._hass.locale?.language, {
        month: "short",
        day: "numeric",
        hour: "numeric",
        minute: "2-digit",
      }),
      satellite: item.satellite_name || "",
      area: item.area || "",
      trigger: this._label("trigger", item.trigger),
      recognized_on: this._label("recognized_on", item.recognized_on || "home_assistant"),
      wake_word: this._label("wake_word", item.wake_word),
      transcript: item.transcript ?? "",
      outcome: this._label("outcome", item.outcome),
      outcome_value: item.outcome,
      reply: item.response_text ?? "",
      audio_kept: Boolean(item.audio_kept),
    };
  }

  _visibleRows() {
    const { satellite, outcome, period } = this._filters;
    const since = period ? Date.now() - Number(period) * DAY_MS : null;
    return this._rows.filter(
      (row) =>
        (satellite === ANY || row.satellite === satellite) &&
        (outcome === ANY || row.outcome_value === outcome) &&
        (since === null || row.started >= since),
    );
  }

  _renderFilters(shown) {
    const satellites = [...new Set(this._rows.map((row) => row.satellite))].sort();
    const outcomes = [...new Set(this._rows.map((row) => row.outcome_value))].sort();
    const select = (name, title, choices) =>
      element("label", { textContent: title }, [
        element(
          "select",
          {
            id: `filter-${name}`,
            onchange: (event) => {
              this._filters[name] = event.target.value;
              this._render();
            },
          },
          choices.map(([value, label]) => option(value, label, this._filters[name])),
        ),
      ]);
    this._count.textContent =
      shown === this._rows.length
        ? count(shown, "interaction")
        : `${shown} of ${count(this._rows.length, "interaction")}`;
    this._filterBox.replaceChildren(
      select("satellite", "Satellite", [
        [ANY, "All satellites"],
        ...satellites.map((name) => [name, name]),
      ]),
      select("outcome", "Outcome", [
        [ANY, "All outcomes"],
        ...outcomes.map((value) => [value, this._label("outcome", value)]),
      ]),
      select("period", "Date", PERIODS),
      this._count,
    );
  }

  _columns(withAudio) {
    // On a phone, HA's tables show one main column (here what was heard, with when, where
    // and how it ended under it) and the row's buttons; the rest is for wider screens.
    const narrow = this._narrow;
    // Below this width the area and the reply give way to what was heard (a satellite's
    // name usually says its room; the reply follows from the outcome).
    const roomy = window.innerWidth >= 1500;
    const columns = {
      started: {
        title: "Time",
        sortable: true,
        direction: "desc",
        minWidth: "130px",
        hidden: narrow,
        template: (row) => row.time,
      },
      satellite: {
        title: "Satellite",
        sortable: true,
        filterable: true,
        minWidth: "150px",
        hidden: narrow,
      },
      area: { title: "Area", sortable: true, filterable: true, hidden: !roomy },
      trigger: { title: "Started by", sortable: true, minWidth: "110px", hidden: narrow },
      recognized_on: { title: "Recognised", sortable: true, minWidth: "120px", hidden: !roomy },
      transcript: {
        title: "Heard",
        filterable: true,
        flex: 2,
        main: true,
        minWidth: "160px",
        template: narrow ? (row) => this._twoLines(row) : undefined,
      },
      outcome: {
        title: "Outcome",
        sortable: true,
        filterable: true,
        minWidth: "120px",
        hidden: narrow,
      },
      reply: { title: "Reply", filterable: true, flex: 2, hidden: !roomy },
    };
    if (withAudio) {
      columns.audio = {
        title: narrow ? "" : "Recording",
        label: "Recording",
        minWidth: narrow ? "64px" : "100px",
        showNarrow: true,
        template: (row) =>
          row.audio_kept ? this._rowButton("Play", "play", () => this.play(row)) : "",
      };
    }
    columns.actions = {
      title: "",
      label: "Delete",
      minWidth: narrow ? "80px" : "100px",
      showNarrow: true,
      template: (row) => this._rowButton("Delete", "delete", () => this.confirmDelete(row)),
    };
    return columns;
  }

  _twoLines(row) {
    const line = (text, style) =>
      element("div", {
        textContent: text,
        style: `white-space: nowrap; overflow: hidden; text-overflow: ellipsis; ${style}`,
      });
    return element("div", { style: "min-width: 0; width: 100%;" }, [
      line(row.transcript || "(nothing heard)", ""),
      line(
        [row.time, row.satellite, row.outcome].filter(Boolean).join(" · "),
        "font-size: 12px; color: var(--secondary-text-color);",
      ),
    ]);
  }

  _rowButton(label, kind, action) {
    const button = this._button(label, undefined, (event) => {
      event.stopPropagation();
      action();
    });
    button.className = kind;
    return button;
  }

  _render() {
    const shown = this._visibleRows();
    this._renderFilters(shown.length);
    this.shadowRoot.querySelector(".page").classList.toggle("narrow", this._narrow);
    if (!this._table) return;
    this._table.narrow = this._narrow;
    this._table.columns = this._columns(this._rows.some((row) => row.audio_kept));
    this._table.data = shown;
  }

  _say(text, error = false) {
    this._status.textContent = text;
    this._status.classList.toggle("error", error);
  }

  _ask(title, text, confirmLabel, destructive) {
    return new Promise((resolve) => {
      const close = (answer) => {
        this._dialog.close();
        resolve(answer);
      };
      // Closed by Escape: the answer is no. The close event of the question before comes
      // later than its answer and may find this one already asked (the dialog open
      // again): it is not this question's answer.
      this._dialog.onclose = () => {
        if (!this._dialog.open) resolve(false);
      };
      const confirm = this._button(confirmLabel, "confirm", () => close(true), destructive && "danger");
      this._dialog.replaceChildren(
        element("h2", { textContent: title }),
        element("p", { textContent: text }),
        element("div", { class: "actions" }, [
          this._button("Cancel", "cancel", () => close(false)),
          confirm,
        ]),
      );
      this._dialog.showModal();
    });
  }

  async confirmDelete(row) {
    const all = row === undefined;
    const yes = await this._ask(
      all ? "Delete the whole voice history?" : "Delete this interaction?",
      all
        ? "Every kept interaction and recording is deleted, with every copy Home Assistant holds (recorder, logbook, exports). This cannot be undone."
        : `"${row.transcript || "(nothing heard)"}" from ${row.satellite}, ${row.time}, is deleted with every copy Home Assistant holds. This cannot be undone.`,
      "Delete",
      true,
    );
    if (yes) await this.remove(all ? undefined : row.interaction_id);
  }

  async remove(interactionId) {
    const message = { type: "sotto/history/delete" };
    if (interactionId !== undefined) message.interaction_id = interactionId;
    try {
      const removed = await this._hass.callWS(message);
      this._say(`Deleted ${count(removed.history.interactions, "interaction")}.`);
    } catch (err) {
      this._say(`Nothing was deleted: ${err.message || err}`, true);
    }
    await this.load();
  }

  async export() {
    try {
      const answer = await this._hass.callWS({
        type: "call_service",
        domain: "sotto",
        service: "export_history",
        service_data: {},
        return_response: true,
      });
      const done = answer.response;
      this._say(
        `Exported ${count(done.interactions, "interaction")} and ` +
          `${count(done.audio_files, "recording")} to ${done.folder}.`,
      );
    } catch (err) {
      this._say(`The export failed: ${err.message || err}`, true);
    }
  }

  async play(row) {
    let url;
    try {
      const { wav } = await this._hass.callWS({
        type: "sotto/history/audio",
        interaction_id: row.interaction_id,
      });
      const bytes = Uint8Array.from(atob(wav), (c) => c.charCodeAt(0));
      url = URL.createObjectURL(new Blob([bytes], { type: "audio/wav" }));
    } catch (err) {
      this._say(`The recording could not be opened: ${err.message || err}`, true);
      return;
    }
    const player = element("audio", { controls: true, autoplay: true, src: url });
    this._dialog.onclose = () => URL.revokeObjectURL(url);
    this._dialog.replaceChildren(
      element("h2", { textContent: "Recording" }),
      element("p", { textContent: `"${row.transcript}" from ${row.satellite}, ${row.time}` }),
      player,
      element("div", { class: "actions" }, [
        this._button("Close", "close", () => this._dialog.close()),
      ]),
    );
    this._dialog.showModal();
  }
}

customElements.define("sotto-history-panel", SottoHistoryPanel);

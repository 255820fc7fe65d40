// The dashboard: one live snapshot of the fleet (server-sent events from the server's one view
// of it), four panels, a transcript beside them, and the actions, each shown with its result.

import { Component, html, render, text } from "./ui.js";
import { post } from "./api.js";
import { FleetPanel } from "./fleet_panel.js";
import { PlansPanel } from "./plans_panel.js";
import { InboxPanel } from "./inbox_panel.js";
import { CostsPanel } from "./costs_panel.js";
import { Transcript } from "./transcript.js";

const TABS = [
  ["fleet", "Fleet"],
  ["plans", "Plans"],
  ["inbox", "Inbox"],
  ["costs", "Costs"],
];
const NOTICE_MS = 10_000;

class App extends Component {
  constructor() {
    super();
    const hash = new URLSearchParams(location.hash.slice(1));
    const tab = TABS.some(([name]) => name === hash.get("tab")) ? hash.get("tab") : "fleet";
    this.state = {
      snapshot: null,
      live: false,
      tab,
      following: hash.get("task"),
      notices: [],
      errors: [],
      now: Date.now(),
    };
    this.nextNotice = 1;
    this.actions = {
      follow: (id) => this.show({ following: id }),
      startTask: (prompt, ships) => this.startTask(prompt, ships),
      cancelTask: (id) =>
        this.act(`Cancel task ${id}`, `/api/tasks/${encodeURIComponent(id)}/cancel`),
      cancelPlan: (id) =>
        this.act(`Cancel plan ${id}`, `/api/plans/${encodeURIComponent(id)}/cancel`),
      approve: (id) => this.act(`Approve ${id}`, `/api/held/${encodeURIComponent(id)}/approve`),
      remove: (id) => this.act(`Delete ${id}`, `/api/held/${encodeURIComponent(id)}/delete`),
    };
  }

  componentDidMount() {
    this.events = new EventSource("/api/events");
    this.events.onopen = () => this.setState({ live: true });
    // A stream the server refuses (it restarted: a new token) is not asked for again.
    this.events.onerror = () =>
      this.setState({ live: false, gone: this.events.readyState === EventSource.CLOSED });
    this.events.onmessage = (message) => this.heard(JSON.parse(message.data));
    this.clock = setInterval(() => this.setState({ now: Date.now() }), 1000);
  }

  componentWillUnmount() {
    this.events?.close();
    clearInterval(this.clock);
  }

  heard(event) {
    if (event.type === "snapshot") {
      this.setState({ snapshot: event.snapshot, errors: [] });
    } else if (event.type === "plan" && this.state.snapshot) {
      const snapshot = this.state.snapshot;
      if (
        snapshot.planEvents.some((seen) =>
          seen.plan === event.event.plan && seen.seq >= event.event.seq
        )
      ) {
        return;
      }
      this.setState({
        snapshot: { ...snapshot, planEvents: [...snapshot.planEvents, event.event].slice(-200) },
      });
    } else if (event.type === "error") {
      this.setState({ errors: [...this.state.errors, text(event.message)].slice(-5) });
    }
  }

  show(change) {
    this.setState(change, () => {
      const hash = new URLSearchParams();
      hash.set("tab", this.state.tab);
      if (this.state.following) hash.set("task", this.state.following);
      history.replaceState(null, "", `#${hash}`);
    });
  }

  notify(kind, message) {
    const id = this.nextNotice++;
    this.setState({ notices: [...this.state.notices, { id, kind, text: message }] });
    setTimeout(() => this.dismiss(id), NOTICE_MS);
  }

  dismiss(id) {
    this.setState({ notices: this.state.notices.filter((notice) => notice.id !== id) });
  }

  async act(what, path) {
    try {
      const result = await post(path);
      this.notify("ok", `${what}: ${text(result.outcome ?? result.status ?? "done")}`);
    } catch (error) {
      this.notify("error", `${what}: ${error.message}`);
    }
  }

  async startTask(prompt, ships) {
    try {
      const { tasks } = await post("/api/tasks", { prompt, ships });
      for (const task of tasks) this.notify("ok", `Started ${task.id} on ${task.ship}`);
      if (tasks[0]) this.show({ following: tasks[0].id });
      return true;
    } catch (error) {
      this.notify("error", `Start a task: ${error.message}`);
      return false;
    }
  }

  render(_, state) {
    const { snapshot, now } = state;
    const heldCount = snapshot?.held.length ?? 0;
    const running = snapshot?.plans.filter((plan) => plan.status === "running").length ?? 0;
    const counts = {
      plans: running ? `${running} running` : "",
      inbox: heldCount ? `${heldCount} held` : "",
    };
    const problems = [...(snapshot?.problems ?? []), ...state.errors];
    return html`
      <header class="top">
        <h1>⚓ ohcommodore</h1>
        <span class="flagship">${text(snapshot?.flagship.name)}</span>
        <span class=${state.live ? "live on" : "live off"}>${state.live
          ? "live"
          : state.gone
          ? "stopped: open the address ohcommodore dashboard prints"
          : "reconnecting…"}</span>
        <span class="updated">${snapshot
          ? `read ${agoShort(snapshot.at, now)}`
          : "reading the fleet…"}</span>
      </header>
      <nav class="tabs">
        ${TABS.map(([name, label]) =>
          html`
            <button class=${state.tab === name ? "tab on" : "tab"} data-tab=${name}
              onClick=${() => this.show({ tab: name })}>
              ${label}${counts[name]
                ? html`
                  <span class="count">${counts[name]}</span>
                `
                : null}
            </button>
          `
        )}
      </nav>
      ${problems.length
        ? html`<ul class="problems">${problems.map((problem) => html`<li>${problem}</li>`)}</ul>`
        : null}
      <div class=${state.following ? "body with-side" : "body"}>
        <main>
          ${!snapshot
            ? html`<p class="empty">Reading the fleet…</p>`
            : state.tab === "fleet"
            ? html`
              <${FleetPanel} snapshot=${snapshot} now=${now} actions=${this.actions}
                following=${state.following} />
            `
            : state.tab === "plans"
            ? html`<${PlansPanel} snapshot=${snapshot} now=${now} actions=${this.actions} />`
            : state.tab === "inbox"
            ? html`<${InboxPanel} snapshot=${snapshot} now=${now} actions=${this.actions} />`
            : html`<${CostsPanel} snapshot=${snapshot} now=${now} />`}
        </main>
        ${state.following
          ? html`
            <${Transcript} key=${state.following} id=${state.following} snapshot=${snapshot}
              actions=${this.actions} onClose=${() => this.show({ following: null })} />
          `
          : null}
      </div>
      <ul class="notices" aria-live="polite">
        ${state.notices.map((notice) =>
          html`
            <li class=${`notice ${notice.kind}`} key=${notice.id}>
              <span>${notice.text}</span>
              <button class="plain" aria-label="dismiss" onClick=${() =>
                this.dismiss(notice.id)}>×</button>
            </li>
          `
        )}
      </ul>
    `;
  }
}

function agoShort(iso, now) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return seconds < 2 ? "just now" : `${seconds}s ago`;
}

render(html`<${App} />`, document.getElementById("app"));

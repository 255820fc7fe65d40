// The fleet: the flagship, each ship (access, scheduler, queue, current task with its running
// time, cost and plan), a form to give ships a task, and the latest tasks.

import { ago, Badge, Component, duration, html, text, usd } from "./ui.js";
import { get } from "./api.js";

export function FleetPanel({ snapshot, now, actions, following }) {
  return html`
    <section class="panel">
      <${Flagship} flagship=${snapshot.flagship} />
      <${Ships} snapshot=${snapshot} now=${now} actions=${actions} following=${following} />
      <${Tasks} tasks=${snapshot.tasks} now=${now} actions=${actions} following=${following} />
    </section>
  `;
}

function Flagship({ flagship }) {
  return html`
    <div class="flagship-card">
      <strong>${text(flagship.name)}</strong>
      <span>scheduler ${flagship.schedulerRunning
        ? html`<${Badge} status="running" />`
        : html`<${Badge} status="stopped" />`}</span>
      <span>unread <b>${flagship.unread}</b></span>
      <span>running <b>${flagship.running}</b></span>
      <span>held <b>${flagship.held}</b></span>
    </div>
  `;
}

class Ships extends Component {
  constructor() {
    super();
    this.state = { chosen: new Set(), prompt: "", sending: false, open: null, messages: null };
  }

  toggle(name) {
    const chosen = new Set(this.state.chosen);
    chosen.has(name) ? chosen.delete(name) : chosen.add(name);
    this.setState({ chosen });
  }

  async start(event) {
    event.preventDefault();
    const ships = [...this.state.chosen];
    this.setState({ sending: true });
    const started = await this.props.actions.startTask(this.state.prompt, ships);
    this.setState({ sending: false, ...(started ? { prompt: "" } : {}) });
  }

  async openShip(name) {
    if (this.state.open === name) return this.setState({ open: null, messages: null });
    this.setState({ open: name, messages: null });
    try {
      const messages = await get(`/api/members/${encodeURIComponent(name)}/messages`);
      if (this.state.open === name) this.setState({ messages });
    } catch (error) {
      if (this.state.open === name) this.setState({ messages: error });
    }
  }

  render({ snapshot, now, actions, following }, state) {
    const ships = snapshot.ships;
    const names = ships.map((ship) => ship.name);
    const chosen = [...state.chosen].filter((name) => names.includes(name));
    return html`
      <h2>Ships <span class="muted">${ships.length}</span></h2>
      ${ships.length === 0
        ? html`<p class="empty">No ships yet: make one with "ohcommodore ship create".</p>`
        : html`
          <div class="scroll">
            <table class="ships">
              <thead>
                <tr>
                  <th></th>
                  <th>Ship</th>
                  <th>Repository</th>
                  <th>Access</th>
                  <th>Scheduler</th>
                  <th>Unread</th>
                  <th>Running</th>
                  <th>Task</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${ships.flatMap((ship) => [
                  html`
                    <${ShipRow} key=${ship.name} ship=${ship} snapshot=${snapshot} now=${now}
                      actions=${actions} following=${following} chosen=${state.chosen.has(
                        ship.name,
                      )}
                      onChoose=${() => this.toggle(ship.name)} onOpen=${() =>
                        this.openShip(ship.name)} />
                  `,
                  state.open === ship.name
                    ? html`
                      <tr class="messages-row" key=${`${ship.name}-messages`}>
                        <td></td>
                        <td colspan="8">
                          <${Messages} messages=${state.messages} now=${now} />
                        </td>
                      </tr>
                    `
                    : null,
                ])}
              </tbody>
            </table>
          </div>
        `}
      <form class="new-task" onSubmit=${(event) => this.start(event)}>
        <h2>New task</h2>
        <textarea name="prompt" rows="3" placeholder="What should the agents do?"
          value=${state.prompt} onInput=${(event) =>
            this.setState({ prompt: event.currentTarget.value })}></textarea>
        <div class="row">
          <span class="muted">${chosen.length
            ? `on ${chosen.join(", ")}`
            : "tick the ships to give it to"}</span>
          <button type="submit" class="primary" disabled=${state.sending || !chosen.length ||
            !state.prompt.trim()}>
            ${state.sending ? "Starting…" : `Start on ${chosen.length} ship(s)`}
          </button>
        </div>
      </form>
    `;
  }
}

function ShipRow({ ship, snapshot, now, actions, following, chosen, onChoose, onOpen }) {
  const task = ship.task;
  return html`
    <tr class=${following && task?.id === following ? "chosen" : null} data-ship=${ship.name}>
      <td>
        <input type="checkbox" aria-label=${`choose ${ship.name}`} checked=${chosen} onChange=${onChoose} />
      </td>
      <td>
        <button class="plain name" onClick=${onOpen}>${text(ship.name)}</button>
        ${ship.problem ? html`<div class="problem">${text(ship.problem)}</div>` : null}
      </td>
      <td class="repo">${text(ship.repo ?? "–")}</td>
      <td>${ship.keyless ? `keyless, channel ${text(ship.channel ?? "?")}` : "trusted"}</td>
      <td>
        ${ship.schedulerRunning === null
          ? "?"
          : html`<${Badge} status=${ship.schedulerRunning ? "running" : "stopped"} />`}
      </td>
      <td class="num">${ship.unread ?? "?"}</td>
      <td class="num">${ship.running ?? "?"}</td>
      <td>
        <${ShipTask} task=${task} at=${snapshot.at} now=${now} />
      </td>
      <td class="actions">
        ${task ? html`<button onClick=${() => actions.follow(task.id)}>Follow</button>` : null}
        ${task && isOpen(task.status)
          ? html`<button class="danger" onClick=${() =>
            actions.cancelTask(task.id)}>Cancel</button>`
          : null}
      </td>
    </tr>
  `;
}

function ShipTask({ task, at, now }) {
  if (!task) return html`<span class="muted">–</span>`;
  // A running task's time goes on between snapshots.
  const running = isOpen(task.status)
    ? task.runningMs + Math.max(0, now - Date.parse(at))
    : task.runningMs;
  return html`
    <span class="task">
      <${Badge} status=${task.status} /> <span class="mono">${text(task.id).slice(0, 8)}</span>
      ${" "}${duration(running)} · ${usd(task.costUsd)}
      ${task.plan
        ? html`
          · plan <span class="mono">${text(task.plan.id)}</span>${task.plan.task
            ? `/${text(task.plan.task)}`
            : null}
        `
        : null}
    </span>
  `;
}

function Messages({ messages, now }) {
  if (messages === null) return html`<p class="muted">Asking the ship…</p>`;
  if (messages instanceof Error) return html`<p class="problem">${messages.message}</p>`;
  if (!messages.length) return html`<p class="muted">No messages.</p>`;
  return html`<${MessageTable} messages=${messages} now=${now} />`;
}

/** Messages with status, exit code and command (shared with the inbox panel). */
export function MessageTable({ messages, now }) {
  return html`
    <table class="messages">
      <thead>
        <tr>
          <th>Id</th>
          <th>From</th>
          <th>Status</th>
          <th>Exit</th>
          <th>Command</th>
          <th>When</th>
        </tr>
      </thead>
      <tbody>${messages.map((message) =>
        html`
          <tr key=${message.id}>
            <td class="mono">${text(message.id).slice(0, 8)}</td>
            <td>${text(message.sender ?? "–")}</td>
            <td>
              <${Badge} status=${message.status} />
            </td>
            <td class="num">${message.exitCode ?? "–"}</td>
            <td>
              <pre class="command">${clip(message.command)}</pre>
            </td>
            <td class="muted">${ago(message.createdAt, now)}</td>
          </tr>
        `
      )}
      </tbody>
    </table>
  `;
}

function Tasks({ tasks, now, actions, following }) {
  return html`
    <h2>Tasks <span class="muted">${tasks.length
      ? `latest ${Math.min(tasks.length, 30)}`
      : null}</span></h2>
    ${!tasks.length ? html`<p class="empty">No agent tasks yet.</p>` : html`
      <table class="tasks">
        <thead>
          <tr>
            <th>Task</th>
            <th>Ship</th>
            <th>Status</th>
            <th>Started</th>
            <th>Cost</th>
            <th>Prompt</th>
            <th></th>
          </tr>
        </thead>
        <tbody>${tasks.slice(0, 30).map((task) =>
          html`
            <tr key=${task.id} class=${task.id === following ? "chosen" : null}>
              <td class="mono">${text(task.id).slice(0, 8)}</td>
              <td class="ship">${text(task.ship)}</td>
              <td>
                <${Badge} status=${task.status} />
              </td>
              <td class="muted">${ago(task.startedAt, now)}</td>
              <td class="num">${usd(task.costUsd)}</td>
              <td class="prompt">${clip(task.prompt, 140)}</td>
              <td class="actions"><button onClick=${() =>
                actions.follow(task.id)}>Follow</button></td>
            </tr>
          `
        )}
        </tbody>
      </table>
    `}
  `;
}

function isOpen(status) {
  return ["queued", "waiting", "running", "stalled"].includes(status);
}

function clip(value, max = 400) {
  const whole = text(value);
  return whole.length > max ? `${whole.slice(0, max)}…` : whole;
}

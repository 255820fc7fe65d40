// One task's transcript, live: what the agent says and the tools it uses, a line each as
// `agent follow` prints them (what was said so far first), then its outcome. The lines are the
// agent's own words, so they are text nodes, never markup.

import { Badge, Component, duration, html, Link, text, usd } from "./ui.js";

export class Transcript extends Component {
  constructor() {
    super();
    this.state = { lines: [], outcome: null, failure: null };
    this.list = null;
  }

  componentDidMount() {
    const source = new EventSource(`/api/tasks/${encodeURIComponent(this.props.id)}/follow`);
    this.source = source;
    source.addEventListener("line", (event) => {
      const { text: line, at } = JSON.parse(event.data);
      this.setState({ lines: [...this.state.lines, { text: text(line), at }] });
    });
    source.addEventListener("outcome", (event) => {
      source.close();
      this.setState({ outcome: JSON.parse(event.data) });
    });
    source.addEventListener("failure", (event) => {
      source.close();
      this.setState({ failure: text(JSON.parse(event.data).message) });
    });
  }

  componentWillUnmount() {
    this.source?.close();
  }

  componentDidUpdate() {
    if (this.list) this.list.scrollTop = this.list.scrollHeight;
  }

  render({ id, snapshot, actions, onClose }, { lines, outcome, failure }) {
    const ship = snapshot?.ships.find((ship) => ship.task?.id === id)?.name ??
      snapshot?.tasks.find((task) => task.id === id)?.ship ?? outcome?.ship;
    const ended = Boolean(outcome || failure);
    return html`
      <aside class="side transcript" data-task=${id}>
        <header>
          <h2>Task <span class="mono">${text(id).slice(0, 12)}</span></h2>
          <span class="muted">${ship ? `on ${text(ship)}` : null}</span>
          <span class="grow"></span>
          ${!ended
            ? html`
              <span class="live on">live</span>
              <button class="danger" onClick=${() => actions.cancelTask(id)}>Cancel</button>
            `
            : null}
          <button class="plain" aria-label="close" onClick=${onClose}>×</button>
        </header>
        <ol class="lines" ref=${(element) => this.list = element}>
          ${lines.map((line, i) => html`<li key=${i}>${line.text}</li>`)}
          ${!ended && !lines.length ? html`<li class="muted">Waiting for the agent…</li>` : null}
        </ol>
        ${failure ? html`<p class="problem">${failure}</p>` : null}
        ${outcome ? html`<${Outcome} outcome=${outcome} />` : null}
      </aside>
    `;
  }
}

function Outcome({ outcome }) {
  return html`
    <div class="outcome">
      <div>
        <${Badge} status=${outcome.status} /> ${`${usd(outcome.costUsd)} · ${
          outcome.numTurns ??
            "?"
        } turn(s) · ${duration(outcome.durationMs)}`}
      </div>
      ${outcome.result ? html`<pre class="result">${text(outcome.result)}</pre>` : null}
      ${outcome.error ? html`<p class="problem">${text(outcome.error)}</p>` : null}
      ${outcome.branch
        ? html`<div>branch <span class="mono">${text(outcome.branch)}</span></div>`
        : null}
      ${Array.isArray(outcome.commits) && outcome.commits.length
        ? html`
          <ul class="commits">${outcome.commits.map((commit) =>
            html`
              <li><span class="mono">${text(commit.sha).slice(0, 8)}</span> ${text(
                commit.subject,
              )}</li>
            `
          )}
          </ul>
        `
        : null}
      ${outcome.pr
        ? html`
          <div>
            <${Link} url=${outcome.pr} label="pull request" />
          </div>
        `
        : null}
    </div>
  `;
}

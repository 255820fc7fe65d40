// The flagship's inbox: commands ships sent that wait for a person (Approve, Delete), notes
// from ships, and the latest messages with their status and exit code.

import { ago, html, text } from "./ui.js";
import { MessageTable } from "./fleet_panel.js";

export function InboxPanel({ snapshot, now, actions }) {
  return html`
    <section class="panel">
      <h2>Held for approval <span class="muted">${snapshot.held.length}</span></h2>
      ${!snapshot.held.length ? html`<p class="empty">Nothing waits for a person.</p>` : html`
        <ul class="held">
          ${snapshot.held.map((message) =>
            html`
              <li key=${message.id} data-message=${message.id}>
                <div class="held-top">
                  <span class="mono">${text(message.id).slice(0, 8)}</span>
                  <span>from <b>${text(message.sender ?? "?")}</b></span>
                  <span class="muted">${ago(message.createdAt, now)}</span>
                  <span class="grow"></span>
                  <button class="primary" onClick=${() =>
                    actions.approve(message.id)}>Approve</button>
                  <button class="danger" onClick=${() => actions.remove(message.id)}>Delete</button>
                </div>
                <pre class="command">${text(message.command)}</pre>
              </li>
            `
          )}
        </ul>
      `}
      <h2>Notes <span class="muted">${snapshot.notes.length}</span></h2>
      ${!snapshot.notes.length ? html`<p class="empty">No notes from ships.</p>` : html`
        <ul class="notes">
          ${snapshot.notes.map((message) =>
            html`
              <li key=${message.id} data-message=${message.id}>
                <div class="muted">${text(message.sender ?? "?")} · ${ago(
                  message.createdAt,
                  now,
                )}</div>
                <pre class="note-text">${text(message.command)}</pre>
              </li>
            `
          )}
        </ul>
      `}
      <h2>Recent on ${text(snapshot.flagship.name)}</h2>
      ${!snapshot.recent.length
        ? html`<p class="empty">No messages.</p>`
        : html`<${MessageTable} messages=${snapshot.recent} now=${now} />`}
    </section>
  `;
}

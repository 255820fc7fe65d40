// Plans: each running plan (and the latest that ended) as a board of its tasks by state, with
// attempts, cost, branch and pull request, the budget used, and its latest events.

import { ago, Badge, html, Link, text, usd } from "./ui.js";

const COLUMNS = [
  ["Waiting", ["waiting", "ready"]],
  ["Working", ["running", "verifying", "integrating"]],
  ["Done", ["done"]],
  ["Stopped", ["failed", "blocked", "cancelled"]],
];
const EVENTS_SHOWN = 12;

export function PlansPanel({ snapshot, now, actions }) {
  const shown = snapshot.plans.filter((plan) => snapshot.planTasks[plan.id]);
  const others = snapshot.plans.filter((plan) => !snapshot.planTasks[plan.id]);
  return html`
    <section class="panel">
      ${!snapshot.plans.length
        ? html`<p class="empty">No plans yet: hand the flagship one with "ohcommodore plan run".</p>`
        : null}
      ${shown.map((plan) =>
        html`
          <${PlanBoard} key=${plan.id} plan=${plan} tasks=${snapshot.planTasks[plan.id]}
            events=${snapshot.planEvents.filter((event) =>
              event.plan === plan.id
            )} now=${now} actions=${actions} />
        `
      )}
      ${others.length
        ? html`
          <h2>Earlier plans</h2>
          <table class="plans">
            <thead>
              <tr>
                <th>Plan</th>
                <th>Status</th>
                <th>Tasks</th>
                <th>Cost</th>
                <th>Branch</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>${others.map((plan) =>
              html`
                <tr key=${plan.id}>
                  <td class="mono">${text(plan.id)}</td>
                  <td>
                    <${Badge} status=${plan.status} />
                  </td>
                  <td class="num">${plan.tasksDone}/${plan.tasks}</td>
                  <td class="num">${usd(plan.costUsd)}</td>
                  <td class="mono">${text(plan.integrate)}</td>
                  <td class="muted">${ago(plan.createdAt, now)}</td>
                </tr>
              `
            )}
            </tbody>
          </table>
        `
        : null}
    </section>
  `;
}

function PlanBoard({ plan, tasks, events, now, actions }) {
  const budget = typeof plan.budgetUsd === "number" && plan.budgetUsd > 0 ? plan.budgetUsd : null;
  const used = budget ? Math.min(1, plan.costUsd / budget) : 0;
  return html`
    <article class="plan" data-plan=${plan.id}>
      <header>
        <h2>Plan <span class="mono">${text(plan.id)}</span> <${Badge} status=${plan.status} /></h2>
        <span class="muted">${text(plan.repo)} → <span class="mono">${text(
          plan.integrate,
        )}</span></span>
        <span>${plan.tasksDone}/${plan.tasks} done</span>
        <span class="budget">
          ${usd(plan.costUsd)}${budget ? ` of ${usd(budget)}` : null}
          ${budget
            ? html`
              <svg class="meter" viewBox="0 0 100 6" width="100" height="6" aria-hidden="true">
                <rect width="100" height="6" rx="3" class="meter-back" />
                <rect width=${Math.max(2, used * 100)} height="6" rx="3" class=${used >= 0.9
                  ? "meter-bad"
                  : "meter-fill"} />
              </svg>
            `
            : null}
        </span>
        ${plan.pr ? html`<${Link} url=${plan.pr} label="pull request" />` : null}
        ${plan.status === "running"
          ? html`<button class="danger" onClick=${() =>
            actions.cancelPlan(plan.id)}>Cancel plan</button>`
          : null}
      </header>
      ${plan.note ? html`<p class="note-line">${text(plan.note)}</p>` : null}
      <div class="board">
        ${COLUMNS.map(([title, statuses]) => {
          const column = tasks.filter((task) => statuses.includes(task.status));
          return html`
            <div class="column" data-column=${title}>
              <h3>${title} <span class="muted">${column.length}</span></h3>
              ${column.map((task) =>
                html`<${TaskCard} key=${task.id} task=${task} actions=${actions} />`
              )}
            </div>
          `;
        })}
      </div>
      ${events.length
        ? html`
          <ol class="events">
            ${events.slice(-EVENTS_SHOWN).map((event) =>
              html`
                <li key=${event.seq}>
                  <span class="muted">${ago(event.at, now)}</span>
                  <${Badge} status=${event.type} />
                  ${event.task ? html`<span class="mono">${text(event.task)}</span>` : null}
                  ${event.ship ? html`<span class="muted">on ${text(event.ship)}</span>` : null}
                  <span>${text(event.text)}</span>
                </li>
              `
            )}
          </ol>
        `
        : null}
    </article>
  `;
}

function TaskCard({ task }) {
  return html`
    <div class=${`card ${text(task.status)}`} data-task=${task.id}>
      <div class="card-top"><strong>${text(task.id)}</strong><${Badge} status=${task
        .status} /></div>
      <div class="muted">${task.ship ? text(task.ship) : "no ship yet"}</div>
      <div>${task.attempts} attempt(s) · ${usd(task.costUsd)}</div>
      ${task.needs.length
        ? html`<div class="muted">needs ${task.needs.map(text).join(", ")}</div>`
        : null}
      <div class="mono small">${text(task.branch)}</div>
      ${task.pr
        ? html`
          <div>
            <${Link} url=${task.pr} label="pull request" />
          </div>
        `
        : null}
      ${task.error ? html`<div class="problem">${text(task.error)}</div>` : null}
    </div>
  `;
}

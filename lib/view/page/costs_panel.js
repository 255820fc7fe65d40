// Costs: what each ship's agent tasks cost (bars), and what the fleet spent over time (a line per
// ship and one for the fleet, each a running total at the end of each task). Small SVG drawn
// here: two charts of a few dozen points need no charting library.

import { html, text, usd } from "./ui.js";

const COLOURS = ["#5aa9e6", "#f4a259", "#8bd450", "#e85d75", "#b48ead", "#4fd1c5", "#f6e05e"];
const FLEET_COLOUR = "#e2e8f0";
const WIDTH = 900;

export function CostsPanel({ snapshot, now }) {
  const costs = snapshot.costs;
  if (!costs) {
    return html`
      <section class="panel">
        <p class="empty">Reading the agents' costs…</p>
      </section>
    `;
  }
  const ships = [...costs.ships].sort((a, b) => b.costUsd - a.costUsd);
  // One colour per ship in both charts, by name.
  const names = [
    ...new Set([
      ...costs.ships.map((ship) => text(ship.name)),
      ...snapshot.tasks.map((task) => text(task.ship)),
    ]),
  ]
    .sort();
  const colour = (name) => COLOURS[names.indexOf(name) % COLOURS.length];
  return html`
    <section class="panel">
      <h2>Costs <span class="total">${usd(costs.totalUsd)}</span>
        <span class="muted">${ships.reduce((sum, ship) => sum + ship.tasks, 0)} task(s)</span></h2>
      ${costs.unreachable.length
        ? html`<p class="problem">Not counted (could not be asked):
        ${costs.unreachable.map((ship) => text(ship.ship)).join(", ")}</p>`
        : null}
      ${!ships.length
        ? html`<p class="empty">No ships, no costs.</p>`
        : html`<${Bars} ships=${ships} colour=${colour} />`}
      <h2>Over time</h2>
      <${OverTime} tasks=${snapshot.tasks} now=${now} colour=${colour} />
    </section>
  `;
}

function Bars({ ships, colour }) {
  const row = 26;
  const label = 230;
  const max = Math.max(...ships.map((ship) => ship.costUsd), 0.0001);
  const height = ships.length * row + 4;
  return html`
    <svg class="chart bars" viewBox=${`0 0 ${WIDTH} ${height}`} width=${WIDTH} height=${height} role="img"
      aria-label="cost per ship">
      ${ships.map((ship, i) => {
        const width = Math.max(1, ((WIDTH - label - 90) * ship.costUsd) / max);
        const y = i * row + 4;
        return html`
          <g key=${ship.name}>
            <text x=${label - 8} y=${y + 15} text-anchor="end" class="axis">
              ${text(ship.name)}${ship.destroyed ? " (destroyed)" : null}
            </text>
            <rect x=${label} y=${y + 3} width=${width} height=${row - 10} rx="3"
              fill=${colour(text(ship.name))} opacity=${ship.destroyed ? 0.45 : 1} />
            <text x=${label + width + 6} y=${y + 15} class="value">${usd(ship.costUsd)} · ${ship
              .tasks}</text>
          </g>
        `;
      })}
    </svg>
  `;
}

function OverTime({ tasks, now, colour }) {
  const ended = tasks
    .filter((task) => task.endedAt && typeof task.costUsd === "number" && task.costUsd > 0)
    .map((task) => ({ ship: text(task.ship), at: Date.parse(task.endedAt), cost: task.costUsd }))
    .filter((point) => Number.isFinite(point.at))
    .sort((a, b) => a.at - b.at);
  if (!ended.length) return html`<p class="empty">No finished task with a cost yet.</p>`;
  const height = 220;
  const pad = { left: 64, right: 250, top: 12, bottom: 26 };
  const start = ended[0].at;
  const end = Math.max(now, ended[ended.length - 1].at, start + 60_000);
  const series = new Map([["fleet", [{ at: start, total: 0 }]]]);
  let fleet = 0;
  const perShip = new Map();
  for (const point of ended) {
    fleet += point.cost;
    series.get("fleet").push({ at: point.at, total: fleet });
    perShip.set(point.ship, (perShip.get(point.ship) ?? 0) + point.cost);
    if (!series.has(point.ship)) series.set(point.ship, [{ at: start, total: 0 }]);
    series.get(point.ship).push({ at: point.at, total: perShip.get(point.ship) });
  }
  const x = (at) => pad.left + ((WIDTH - pad.left - pad.right) * (at - start)) / (end - start);
  const y = (usdValue) => pad.top + (height - pad.top - pad.bottom) * (1 - usdValue / fleet);
  // A running total holds until the next task ends: steps, carried on to now.
  const path = (points) => {
    let d = `M${x(points[0].at).toFixed(1)},${y(points[0].total).toFixed(1)}`;
    for (const point of points.slice(1)) {
      d += `H${x(point.at).toFixed(1)}V${y(point.total).toFixed(1)}`;
    }
    return `${d}H${x(end).toFixed(1)}`;
  };
  const lines = [...series.entries()].slice(0, 12);
  const stroke = (name) => name === "fleet" ? FLEET_COLOUR : colour(name);
  return html`
    <svg class="chart over-time" viewBox=${`0 0 ${WIDTH} ${height}`} width=${WIDTH} height=${height}
      role="img" aria-label="costs over time">
      <line x1=${pad.left} x2=${WIDTH - pad.right} y1=${y(0)} y2=${y(0)} class="grid" />
      <line x1=${pad.left} x2=${WIDTH - pad.right} y1=${y(fleet)} y2=${y(fleet)} class="grid" />
      <text x=${pad.left - 6} y=${y(0) + 4} text-anchor="end" class="axis">$0</text>
      <text x=${pad.left - 6} y=${y(fleet) + 4} text-anchor="end" class="axis">${usd(fleet)}</text>
      <text x=${pad.left} y=${height - 6} class="axis">${clock(start)}</text>
      <text x=${WIDTH - pad.right} y=${height - 6} text-anchor="end" class="axis">${clock(
        end,
      )}</text>
      ${lines.map(([name, points], i) =>
        html`
          <g key=${name}>
            <path d=${path(points)} fill="none" stroke=${stroke(name)}
              stroke-width=${i === 0 ? 2.5 : 1.5} />
            <text x=${WIDTH - pad.right + 10} y=${pad.top + 12 + i * 16} class="legend"
              fill=${stroke(name)}>
              ${name} ${usd(points[points.length - 1].total)}
            </text>
          </g>
        `
      )}
    </svg>
  `;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * `fleet watch`: its drawing (escaped, clipped, the choice marked), its keys, its screen (only
 * changed rows, the terminal given back however it ends, a resize redrawn whole) against a
 * stand-in view; then the real CLI on a local fleet whose ships run the stand-in claude, in a
 * real terminal (tmux: keys in, screen read back) and off one (plain lines, JSON lines).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TaskOutcome } from "../lib/agent/task.ts";
import type { Message } from "../lib/inbox/message.ts";
import type { PlanListing, PlanTaskSummary } from "../lib/plan/plan_types.ts";
import type { FleetSnapshot, ShipView } from "../lib/view/fleet_snapshot.ts";
import type { ViewEvent } from "../lib/view/fleet_view.ts";
import { type WatchedView, type WatchIo, watchScreen } from "../lib/cli/fleet_watch.ts";
import { parseKeys } from "../lib/cli/watch_keys.ts";
import { PlainLog } from "../lib/cli/watch_plain.ts";
import { renderWatch } from "../lib/cli/watch_render.ts";
import { applyKey, initialState, type WatchState } from "../lib/cli/watch_state.ts";
import { ENTER_SCREEN, FullScreen, LEAVE_SCREEN } from "../lib/cli/watch_terminal.ts";
import { fitLine, plainText, textWidth } from "../lib/cli/watch_text.ts";
import { eventually, LocalMember } from "./helpers/local_member.ts";
import { localBareRepo } from "./helpers/local_repo.ts";
import { installLocalStandin } from "./helpers/agent_standins.ts";
import { Terminal } from "./helpers/terminal.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

const ESC = "\x1b";
// Clears the screen, retitles the window, turns text red, rings, then reorders what follows.
const HOSTILE = `${ESC}[2J${ESC}]0;pwned\x07${ESC}[31mred\u202e!`;
const SHOWN = String.raw`\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u202e!`;
// What a drawn line may hold besides text: the view's own SGR sequences.
// deno-lint-ignore no-control-regex -- matching them is the point
const SGR = /\x1b\[[0-9;]*m/g;
// deno-lint-ignore no-control-regex -- what must never reach the terminal from a ship
const CONTROL = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

// ---------------------------------------------------------------------------------------------
// A fleet as the view gives it.

function ship(name: string, fields: Partial<ShipView> = {}): ShipView {
  return {
    name,
    repo: "github.com/acme/web",
    keyless: false,
    channel: null,
    schedulerRunning: true,
    unread: 0,
    running: 0,
    task: null,
    problem: null,
    ...fields,
  };
}

function plan(id: string, fields: Partial<PlanListing> = {}): PlanListing {
  return {
    id,
    status: "running",
    costUsd: 0.025,
    budgetUsd: 5,
    tokens: {
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
    },
    repo: "github.com/acme/web",
    integrate: "release",
    pr: null,
    ships: [],
    createdAt: "2026-01-01T00:00:00.000Z",
    finishedAt: null,
    note: null,
    tasks: 3,
    tasksDone: 1,
    ...fields,
  };
}

function planTask(id: string, fields: Partial<PlanTaskSummary> = {}): PlanTaskSummary {
  return {
    id,
    status: "waiting",
    ship: null,
    attempts: 0,
    costUsd: 0,
    tokens: {
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
    },
    branch: `plan/p1/${id}`,
    pr: null,
    startedAt: null,
    finishedAt: null,
    needs: [],
    ...fields,
  };
}

function held(id: string, command: string): Message & { status: "held" } {
  return {
    id,
    createdAt: "2026-01-01T00:00:00.000Z",
    sender: "captain@ship-b",
    recipient: "commodore@flagship-x",
    command,
    result: null,
    stderr: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    timeoutSec: 1800,
    status: "held",
    exitCode: null,
  };
}

const AT = "2026-01-01T12:00:00.000Z";

function snapshot(fields: Partial<FleetSnapshot> = {}): FleetSnapshot {
  return {
    at: AT,
    flagship: { name: "flagship-x", schedulerRunning: true, unread: 0, running: 1, held: 1 },
    ships: [
      ship("ship-a", {
        task: {
          id: "task-a",
          status: "running",
          runningMs: 60_000,
          costUsd: null,
          plan: { id: "p1", task: "parser" },
        },
      }),
      ship("ship-b", { keyless: true, channel: "forward" }),
      ship("ship-c", { schedulerRunning: false, problem: "its scheduler is stopped" }),
    ],
    plans: [plan("p1")],
    costs: null,
    held: [held("h1", "deploy --prod")],
    recent: [],
    notes: [],
    planTasks: {
      p1: [
        planTask("parser", { status: "running", ship: "ship-a", attempts: 1 }),
        planTask("cli", { needs: ["parser"] }),
      ],
    },
    planEvents: [{
      plan: "p1",
      seq: 1,
      at: AT,
      type: "dispatched",
      task: "parser",
      ship: "ship-a",
      text: "attempt 1 of 2",
    }],
    tasks: [{
      id: "task-a",
      ship: "ship-a",
      status: "running",
      startedAt: AT,
      endedAt: null,
      costUsd: null,
      prompt: "Add a parser",
    }],
    problems: [],
    ...fields,
  };
}

const NOW = Date.parse(AT) + 5_000;
const draw = (state: WatchState, columns = 120, rows = 40) =>
  renderWatch(state, { columns, rows }, { now: NOW, color: true });
const shown = (lines: string[]) => lines.map((line) => plainText(line).trimEnd()).join("\n");

function withSnapshot(fields: Partial<FleetSnapshot> = {}): WatchState {
  return { ...initialState(), snapshot: snapshot(fields) };
}

function keys(state: WatchState, ...names: string[]): WatchState {
  for (const name of names) state = applyKey(state, name, 20).state;
  return state;
}

// ---------------------------------------------------------------------------------------------
// Drawing.

Deno.test("fleet watch draws the flagship, ships, plans, tasks, held messages and plan events", () => {
  const screen = shown(draw(withSnapshot()));
  assert.match(
    screen,
    /^ Flagship flagship-x {3}scheduler running {3}unread 0 {3}running 1 {3}held 1/,
  );
  assert.match(
    screen,
    /^> ship-a .*trusted .*running .*0 unread, 0 running +running 1m5s {2}plan p1\/parser$/m,
  );
  assert.match(screen, /^ {2}ship-b .*keyless +forward +running/m);
  assert.match(screen, /^ {2}ship-c .*STOPPED .*! its scheduler is stopped$/m);
  assert.match(screen, /^ {2}p1 +running +\[###-----\] 1\/3 +\$0\.0250 of \$5\.00 +release/m);
  assert.match(screen, /^ {2}task-a +ship-a +running +5s ago +- +Add a parser$/m);
  assert.match(
    screen,
    /^HELD \(1\): approve with "ohcommodore inbox approve <id>"\n {2}h1 {2}captain@ship-b: deploy --prod$/m,
  );
  assert.match(screen, /\d\d:\d\d:\d\d p1 dispatched parser on ship-a: attempt 1 of 2$/m);
  assert.match(screen, /↑↓ choose {3}Enter open {3}Esc back {3}q quit$/);
});

Deno.test("fleet watch shows a ship's name, a task's text, notes and events with escape sequences as text", () => {
  const hostileShip = ship(`ship-${HOSTILE}`, {
    repo: HOSTILE,
    channel: HOSTILE,
    problem: HOSTILE,
    task: {
      id: HOSTILE,
      status: HOSTILE,
      runningMs: 1,
      costUsd: 1,
      plan: { id: HOSTILE, task: HOSTILE },
    },
  });
  const state: WatchState = {
    ...withSnapshot({
      flagship: { name: HOSTILE, schedulerRunning: true, unread: 0, running: 0, held: 1 },
      ships: [hostileShip],
      plans: [plan(HOSTILE, { integrate: HOSTILE, note: HOSTILE })],
      held: [held(HOSTILE, HOSTILE)],
      notes: [{ ...held("n1", HOSTILE), status: "note" as const, sender: HOSTILE }],
      planEvents: [{ ...snapshot().planEvents[0], plan: HOSTILE, text: HOSTILE, ship: HOSTILE }],
      tasks: [{ ...snapshot().tasks[0], id: HOSTILE, ship: HOSTILE, prompt: HOSTILE }],
    }),
    error: HOSTILE,
  };
  // Every page: the overview, a plan's, a transcript (with the agent's words and its outcome).
  const outcome = { ship: HOSTILE, id: HOSTILE, status: "error", error: HOSTILE } as TaskOutcome;
  const pages = [
    state,
    keys(state, "down", "enter"),
    {
      ...state,
      panes: [{
        kind: "follow" as const,
        serial: 1,
        taskId: HOSTILE,
        ship: HOSTILE,
        lines: [`says: ${HOSTILE}`],
        outcome: {
          ...outcome,
          exitCode: 1,
          result: null,
          isError: true,
          costUsd: 0,
          sessionId: null,
          numTurns: 1,
          durationMs: 5,
          branch: null,
          commits: [],
          pr: null,
        },
        error: HOSTILE,
        scroll: 0,
      }],
    },
  ];
  for (const page of pages) {
    const lines = renderWatch(page, { columns: 400, rows: 40 }, { now: NOW, color: true });
    for (const line of lines) {
      assert.doesNotMatch(
        line.replace(SGR, ""),
        CONTROL,
        `a raw control in ${JSON.stringify(line)}`,
      );
    }
    assert.ok(shown(lines).includes(SHOWN), shown(lines));
  }
  assert.match(shown(renderWatch(pages[2], { columns: 400, rows: 40 })), /says: \\x1b\[2J/);
});

Deno.test("fleet watch clips every line to the terminal's width, wide characters too", () => {
  const wide = withSnapshot({
    ships: [ship("ship-a", { repo: "日本語".repeat(40), problem: "x".repeat(500) })],
    held: [held("h1", "日本".repeat(200))],
  });
  for (const columns of [20, 57, 80, 133]) {
    const lines = draw(wide, columns, 30);
    assert.equal(lines.length, 30);
    for (const line of lines) assert.equal(textWidth(line), columns, JSON.stringify(line));
  }
  const narrow = shown(draw(wide, 40, 30));
  // The repository is cut to its column's width, the row to the screen's.
  assert.match(narrow, /^> ship-a {2}日本語日本語日本語日本… {2}trus…$/m);
  assert.match(narrow, /^ {2}h1 {2}captain@ship-b: 日本日本日本日本…$/m);
  assert.equal(fitLine("abcdef", 4), "abc…");
  assert.equal(fitLine("日本語", 5), "日本…");
  assert.equal(fitLine("日本語", 4), "日… ", "a wide character never crosses the edge");
  assert.equal(fitLine(`\x1b[7mab`, 4), "\x1b[7mab  \x1b[0m", "the style reaches the edge");
  assert.equal(fitLine(`a${ESC}[2Jb`, 11), String.raw`a\x1b[2Jb` + "  ");
});

Deno.test("fleet watch moves the choice with the keys and opens what is chosen", () => {
  const start = withSnapshot();
  const chosen = (state: WatchState) =>
    shown(draw(state)).split("\n").filter((line) => line.startsWith("> ")).map((line) =>
      line.split(/\s+/)[1]
    );
  assert.deepEqual(chosen(start), ["ship-a"]);
  assert.deepEqual(chosen(keys(start, "down")), ["ship-b"]);
  assert.deepEqual(chosen(keys(start, "down", "j", "k")), ["ship-b"]);
  assert.deepEqual(chosen(keys(start, "up")), ["ship-a"], "the first row stays chosen on ↑");
  assert.deepEqual(chosen(keys(start, "end")), ["task-a"], "ships, then plans, then tasks");
  assert.deepEqual(chosen(keys(start, "end", "up")), ["p1"]);
  assert.deepEqual(chosen(keys(start, "pagedown", "home")), ["ship-a"]);

  // A ship: its current task's transcript; Esc goes back.
  const following = keys(start, "enter");
  assert.deepEqual(following.panes.map((pane) => pane.kind === "follow" && pane.taskId), [
    "task-a",
  ]);
  assert.match(
    shown(draw(following)),
    /^ Task task-a on ship-a {3}running 1m5s {2}plan p1\/parser/,
  );
  assert.match(shown(draw(following)), /Waiting for the agent's first words…/);
  assert.deepEqual(keys(following, "escape").panes, []);
  assert.deepEqual(chosen(keys(following, "escape")), ["ship-a"], "back where it was");

  // A ship with no task says so.
  const none = keys(start, "down", "enter");
  assert.deepEqual(none.panes, []);
  assert.match(shown(draw(none)), /^ship-b has no agent task to follow$/m);
  assert.equal(keys(none, "down").notice, null, "until the next key");

  // A plan: its tasks to choose; Enter on the one at work follows its agent.
  const onPlan = keys(start, "down", "down", "down", "enter");
  assert.match(shown(draw(onPlan)), /^ Plan p1 {3}running {3}1\/3 done/);
  assert.match(shown(draw(onPlan)), /^> parser +running +ship-a/m);
  assert.match(shown(draw(keys(onPlan, "down"))), /^> cli +waiting/m);
  const fromPlan = keys(onPlan, "enter");
  assert.deepEqual(fromPlan.panes.map((pane) => pane.kind), ["plan", "follow"]);
  assert.deepEqual(keys(fromPlan, "escape").panes.map((pane) => pane.kind), ["plan"]);
  assert.match(
    shown(draw(keys(onPlan, "down", "enter"))),
    /^No ship works on cli now \(it is waiting\)$/m,
  );

  // q quits anywhere, Ctrl-C too (as an interruption).
  assert.equal(applyKey(fromPlan, "q", 20).quit, "quit");
  assert.equal(applyKey(start, "ctrl-c", 20).quit, "interrupted");
});

Deno.test("fleet watch keeps the chosen row in sight on a short screen", () => {
  const many = withSnapshot({ ships: Array.from({ length: 40 }, (_, i) => ship(`ship-${i}`)) });
  const screen = shown(draw(keys(many, ...Array(30).fill("down")), 100, 12)).split("\n");
  assert.equal(screen.length, 12);
  assert.match(screen.at(-3)!, /^> ship-30 /, "the chosen row, with one below it");
  assert.match(screen.at(-2)!, /^ {2}ship-31 /);
  const end = shown(draw(keys(many, "end"), 100, 12)).split("\n");
  assert.match(end.at(-2)!, /p1 dispatched parser on ship-a/, "on the last row, the page's end");
  assert.ok(end.some((line) => line.startsWith("> task-a ")));
});

Deno.test("fleet watch scrolls a transcript and keeps the newest line in sight until scrolled", () => {
  const lines = Array.from({ length: 50 }, (_, i) => `says: line ${i + 1}`);
  let state: WatchState = {
    ...withSnapshot(),
    panes: [{
      kind: "follow",
      serial: 1,
      taskId: "task-a",
      ship: "ship-a",
      lines,
      outcome: null,
      error: null,
      scroll: 0,
    }],
  };
  const body = (state: WatchState) => shown(renderWatch(state, { columns: 100, rows: 10 }));
  assert.match(body(state), /line 50\n.*following$/);
  state = applyKey(state, "up", 7).state;
  assert.match(body(state), /line 49\n.*1 line\(s\) below$/);
  state = applyKey(state, "home", 7).state;
  assert.match(body(state), /^ Task task-a.*\n {2}says: line 1\n/);
  state = applyKey(state, "end", 7).state;
  assert.match(body(state), /line 50\n.*following$/);
});

Deno.test("keys: arrows in both modes, Esc alone, Enter, Ctrl-C, and characters", () => {
  assert.deepEqual(parseKeys("\x1b[A\x1bOB\x1b[C\x1b[D"), ["up", "down", "right", "left"]);
  assert.deepEqual(parseKeys("\x1b[5~\x1b[6~\x1b[H\x1b[F\x1b[1~\x1b[4~"), [
    "pageup",
    "pagedown",
    "home",
    "end",
    "home",
    "end",
  ]);
  assert.deepEqual(parseKeys("\x1b"), ["escape"]);
  assert.deepEqual(parseKeys("\x1bq"), ["escape", "q"]);
  assert.deepEqual(parseKeys("\r\r\n\n\x03\x7fjk日"), [
    "enter",
    "enter",
    "enter",
    "ctrl-c",
    "backspace",
    "j",
    "k",
    "日",
  ]);
  assert.deepEqual(parseKeys("\x1b[24~\x01"), [], "an unknown key is left out");
});

// ---------------------------------------------------------------------------------------------
// The screen, against a stand-in terminal and view.

// A cursor move to the start of a row: how a frame writes each row.
const ROW = new RegExp(`${ESC}\\[(\\d+);1H`, "g");
const rowsWritten = (text: string) => text.match(ROW)?.length ?? 0;

// What a terminal would show after the writes: the rows each `\x1b[<row>;1H` wrote.
function emulate(writes: string[], rows: number): string[] {
  const screen: string[] = Array(rows).fill("");
  for (const write of writes) {
    const text = write.replace("\x1b[?2026h", "").replace("\x1b[?2026l", "");
    if (text.includes("\x1b[2J")) screen.fill("");
    const parts = text.split(ROW); // text, then a row and what was written on it, …
    for (let at = 1; at < parts.length; at += 2) {
      screen[Number(parts[at]) - 1] = plainText(parts[at + 1]).trimEnd();
    }
  }
  return screen;
}

class StandInView implements WatchedView {
  current: FleetSnapshot;
  listeners = new Set<(event: ViewEvent) => void>();
  follows: {
    taskId: string;
    onLine: (line: string) => void;
    signal: AbortSignal;
    end: (outcome: TaskOutcome) => void;
  }[] = [];
  disposed = false;
  broken: Error | null = null;

  constructor(current: FleetSnapshot) {
    this.current = current;
  }

  snapshot(): FleetSnapshot {
    if (this.broken) throw this.broken;
    return this.current;
  }

  subscribe(listener: (event: ViewEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  tell(event: ViewEvent): void {
    if (event.type === "snapshot") this.current = event.snapshot;
    for (const listener of this.listeners) listener(event);
  }

  follow(
    taskId: string,
    onLine: (line: string) => void,
    signal: AbortSignal,
  ): Promise<TaskOutcome> {
    return new Promise((resolve, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason));
      this.follows.push({ taskId, onLine, signal, end: resolve });
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.disposed = true;
    return Promise.resolve();
  }
}

function standInIo(size: { columns: number; rows: number }) {
  const writes: string[] = [];
  const raw: boolean[] = [];
  const listeners = new Map<string, () => void>();
  const typed: string[] = [];
  let wake = () => {};
  const io: WatchIo = {
    screen: {
      output: {
        writeSync: (bytes) => (writes.push(new TextDecoder().decode(bytes)), bytes.length),
      },
      setRaw: (mode) => raw.push(mode),
    },
    keys: {
      read: async (buffer) => {
        while (typed.length === 0) await new Promise<void>((resolve) => wake = resolve);
        const bytes = new TextEncoder().encode(typed.shift());
        buffer.set(bytes);
        return bytes.length;
      },
    },
    size: () => ({ ...size }),
    onSignal: (signal, listener) => {
      listeners.set(signal, listener);
      return () => listeners.delete(signal);
    },
    color: false,
  };
  return {
    io,
    writes,
    raw,
    size,
    listeners,
    type: (text: string) => (typed.push(text), wake()),
    signal: (name: string) => listeners.get(name)?.(),
    screen: () => emulate(writes, size.rows).join("\n"),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

Deno.test("fleet watch on a screen: draws, follows with Enter, stops with Esc, redraws whole on a resize, and gives the terminal back", async () => {
  const view = new StandInView(
    snapshot({
      at: new Date().toISOString(),
      ships: [ship("ship-a"), { ...snapshot().ships[0], name: "ship-b" }],
    }),
  );
  const terminal = standInIo({ columns: 100, rows: 30 });
  const running = watchScreen(() => Promise.resolve(view), terminal.io);
  await eventually(
    async () => (await settle(), terminal.screen().includes("SHIPS (2)") || undefined),
  );
  assert.equal(terminal.writes[0], ENTER_SCREEN);
  assert.deepEqual(terminal.raw, [true]);
  assert.match(terminal.screen(), /^> ship-a /m);

  // Only the rows that change are written.
  terminal.type("\x1b[B");
  await settle();
  assert.match(terminal.screen(), /^> ship-b /m);
  const moved = terminal.writes.at(-1)!;
  assert.equal(rowsWritten(moved), 2, "the row left and the row chosen");

  // Enter follows the chosen ship's task; the agent's words arrive escaped.
  terminal.type("\r");
  await settle();
  assert.equal(view.follows.length, 1);
  assert.equal(view.follows[0].taskId, "task-a");
  view.follows[0].onLine(`says: ${HOSTILE}`);
  await settle();
  assert.ok(terminal.screen().includes(`says: ${SHOWN}`), terminal.screen());
  assert.ok(!terminal.writes.join("").replace(SGR, "").includes(HOSTILE), "never written raw");

  // A new snapshot from the view shows at once; Esc stops following.
  view.tell({
    type: "snapshot",
    snapshot: { ...view.current, flagship: { ...view.current.flagship, unread: 7 } },
  });
  terminal.type("\x1b");
  await settle();
  assert.ok(view.follows[0].signal.aborted);
  assert.match(terminal.screen(), /unread 7/);
  assert.match(terminal.screen(), /^> ship-b /m, "the choice kept");

  // A resize: the next frame is whole, at the new width.
  terminal.size.columns = 50;
  terminal.signal("SIGWINCH");
  await settle();
  const frame = terminal.writes.at(-1)!;
  assert.ok(frame.includes("\x1b[2J"));
  assert.equal(rowsWritten(frame), 30);
  for (const line of terminal.screen().split("\n")) assert.ok(textWidth(line) <= 50);

  terminal.type("q");
  assert.equal(await running, 0);
  assert.ok(terminal.writes.at(-1)!.endsWith(LEAVE_SCREEN));
  assert.deepEqual(terminal.raw, [true, false]);
  assert.ok(view.disposed);
  assert.equal(terminal.listeners.size, 0, "no signal listener left");
});

Deno.test("fleet watch gives the terminal back on Ctrl-C, on a signal, and when the view or the drawing fails", async () => {
  const cases: [
    string,
    (view: StandInView, terminal: ReturnType<typeof standInIo>) => void,
    number | RegExp,
  ][] = [
    ["Ctrl-C", (_, terminal) => terminal.type("\x03"), 130],
    ["SIGTERM", (_, terminal) => terminal.signal("SIGTERM"), 143],
    [
      "a failed drawing",
      (view) =>
        view.tell({
          type: "snapshot",
          snapshot: { ...view.current, ships: null as unknown as [] },
        }),
      /Cannot read|null|undefined/,
    ],
  ];
  for (const [what, end, expected] of cases) {
    const view = new StandInView(snapshot());
    const terminal = standInIo({ columns: 80, rows: 24 });
    const running = watchScreen(() => Promise.resolve(view), terminal.io);
    await eventually(
      async () => (await settle(), terminal.screen().includes("SHIPS") || undefined),
    );
    end(view, terminal);
    if (typeof expected === "number") assert.equal(await running, expected, what);
    else await assert.rejects(running, expected, what);
    assert.ok(terminal.writes.at(-1)!.endsWith(LEAVE_SCREEN), what);
    assert.deepEqual(terminal.raw, [true, false], what);
    assert.ok(view.disposed, what);
  }
  // The view fails as it opens, or on its first read.
  for (
    const open of [
      () => Promise.reject(new Error("No fleet yet")),
      () => {
        const view = new StandInView(snapshot());
        view.broken = new Error("No fleet yet");
        return Promise.resolve(view);
      },
    ]
  ) {
    const terminal = standInIo({ columns: 80, rows: 24 });
    await assert.rejects(watchScreen(open, terminal.io), /No fleet yet/);
    assert.equal(terminal.writes[0], ENTER_SCREEN);
    assert.ok(terminal.writes.at(-1)!.endsWith(LEAVE_SCREEN));
    assert.deepEqual(terminal.raw, [true, false]);
  }
});

Deno.test("the full screen writes changed rows only, whole frames after invalidate, and leaves once", () => {
  const writes: string[] = [];
  const raw: boolean[] = [];
  const output = {
    writeSync: (bytes: Uint8Array) => (writes.push(new TextDecoder().decode(bytes)), bytes.length),
  };
  {
    using screen = FullScreen.enter({ output, setRaw: (mode) => raw.push(mode) });
    screen.draw(["a", "b", "c"]);
    screen.draw(["a", "B", "c"]);
    screen.draw(["a", "B", "c"]);
    screen.invalidate();
    screen.draw(["a", "B", "c"]);
    screen[Symbol.dispose]();
  }
  assert.deepEqual(writes, [
    ENTER_SCREEN,
    "\x1b[?2026h\x1b[H\x1b[2J\x1b[1;1Ha\x1b[2;1Hb\x1b[3;1Hc\x1b[?2026l",
    "\x1b[?2026h\x1b[2;1HB\x1b[?2026l",
    "\x1b[?2026h\x1b[H\x1b[2J\x1b[1;1Ha\x1b[2;1HB\x1b[3;1Hc\x1b[?2026l",
    LEAVE_SCREEN,
  ]);
  assert.deepEqual(raw, [true, false]);
});

Deno.test("off a terminal, fleet watch prints a line per change, not per read", () => {
  const log = new PlainLog();
  const first = log.lines({ type: "snapshot", snapshot: snapshot() });
  assert.deepEqual(first, [
    "flagship flagship-x: scheduler running, 0 unread, 1 running, 1 held",
    "ship ship-a: trusted, scheduler running, 0 unread, 0 running, task task-a running (plan p1/parser)",
    "ship ship-b: keyless, channel forward, scheduler running, 0 unread, 0 running",
    "ship ship-c: trusted, scheduler STOPPED, 0 unread, 0 running; its scheduler is stopped",
    "plan p1: running, 1/3 done, $0.0250 of $5.00, onto release",
    'held h1 from captain@ship-b: deploy --prod (approve with "ohcommodore inbox approve h1")',
  ]);
  const later = snapshot();
  later.ships[0] = { ...later.ships[0], task: { ...later.ships[0].task!, runningMs: 90_000 } };
  assert.deepEqual(
    log.lines({ type: "snapshot", snapshot: later }),
    [],
    "time passing is no change",
  );
  assert.deepEqual(
    log.lines({ type: "snapshot", snapshot: { ...later, ships: later.ships.slice(1), held: [] } }),
    ["ship ship-a: gone", "held h1: no longer held"],
  );
  assert.deepEqual(
    log.lines({ type: "plan", event: { ...snapshot().planEvents[0], text: HOSTILE } }),
    [
      `plan p1 dispatched parser on ship-a: ${SHOWN}`,
    ],
  );
  assert.deepEqual(log.lines({ type: "error", message: HOSTILE }), [`warning: ${SHOWN}`]);
});

// ---------------------------------------------------------------------------------------------
// The real CLI on a local fleet.

// Runs `fleet watch` off a terminal until `done` says its output is enough, then sends SIGINT.
async function watchOffTerminal(
  laptop: LocalMember,
  args: string[],
  done: (stdout: string) => boolean,
): Promise<{ code: number; stdout: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "fleet", "watch", ...args],
    env: {
      HOME: laptop.home,
      NO_COLOR: "1",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let stdout = "";
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    while (!done(stdout)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      stdout += decoder.decode(value, { stream: true });
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      stdout += decoder.decode(value, { stream: true });
    }
    return { code: (await child.status).code, stdout };
  } finally {
    clearTimeout(deadline);
    reader.releaseLock();
  }
}

Deno.test("fleet watch on a local fleet: plain and JSON lines off a terminal; under tmux the overview, a transcript followed live, and the terminal given back", async (t) => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const init = await laptop.cli(["init", "--provider", "local", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  const made = await laptop.cli([
    "ship",
    "create",
    await localBareRepo(laptop.home),
    "--count",
    "2",
    "--json",
  ]);
  assert.equal(made.code, 0, made.stderr);
  const ships: string[] = JSON.parse(made.stdout).map((ship: { name: string }) => ship.name).sort();
  const sandboxes = join(laptop.home, ".ohcommodore", "sandboxes");
  for (const name of ships) await installLocalStandin(join(sandboxes, name));
  const environment = {
    HOME: laptop.home,
    NO_COLOR: "1",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
  };
  const watch = [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    CLI,
    "fleet",
    "watch",
    "--interval",
    "300ms",
  ];

  try {
    await t.step("off a terminal: a plain line per member, until Ctrl-C", async () => {
      const result = await watchOffTerminal(
        laptop,
        [],
        (out) => ships.every((s) => out.includes(`ship ${s}:`)),
      );
      assert.equal(result.code, 130);
      assert.match(
        result.stdout,
        /^flagship flagship-\w+: scheduler running, 0 unread, 0 running, 0 held$/m,
      );
      for (const name of ships) {
        assert.match(
          result.stdout,
          new RegExp(`^ship ${name}: trusted, scheduler running, 0 unread, 0 running$`, "m"),
        );
      }
      assert.ok(!result.stdout.includes(ESC), "no escape sequence off a terminal");
    });

    await t.step("--json: each event a JSON line, the first a snapshot", async () => {
      const result = await watchOffTerminal(
        laptop,
        ["--json", "--interval", "200ms"],
        (out) => out.split("\n").length > 3,
      );
      assert.equal(result.code, 130);
      const events = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(events[0].type, "snapshot");
      assert.deepEqual(events[0].snapshot.ships.map((ship: ShipView) => ship.name).sort(), ships);
      assert.ok(events.length >= 3, "a snapshot a read");
    });

    await t.step(
      "under tmux: the overview; ↓ and Enter follow a task live, escaped; Esc back; q gives the terminal back",
      async () => {
        await using terminal = await Terminal.start(watch, environment, { columns: 140, rows: 40 });
        const screen = await terminal.waitFor(/^ {2}ship-\S+ /m);
        // The ships in the order shown (the registry's), the first chosen.
        const shown = [...screen.matchAll(/^[> ] (ship-\S+) /gm)].map((match) => match[1]);
        assert.deepEqual([...shown].sort(), ships);
        const second = shown[1];
        assert.match(
          screen,
          new RegExp(`^> ${shown[0]} .*trusted +- +running +0 unread, 0 running +- *$`, "m"),
        );
        assert.match(screen, /^ Flagship flagship-\w+ {3}scheduler running/m);
        assert.match(screen, /↑↓ choose {3}Enter open {3}Esc back {3}q quit/);

        const prompt = `[slow] [sleep 3] paint ${ESC}[31mred${ESC}[0m and clear ${ESC}[2J`;
        const started = await laptop.cli(["agent", "run", "--ships", second, "--", prompt]);
        assert.equal(started.code, 0, started.stderr);
        const taskId = started.stdout.trim().split(/\s+/)[0];
        await terminal.waitFor(new RegExp(`^  ${second} .*running [\\d.]+s`, "m"));
        await terminal.press("Down");
        await terminal.waitFor(new RegExp(`^> ${second} `, "m"));
        await terminal.press("Enter");
        await terminal.waitFor(new RegExp(`^ Task ${taskId} on ${second} `, "m"));
        await terminal.waitFor(/says: step 2 of 5/, 20_000);
        const transcript = await terminal.waitFor(
          /done in [\d.]+s, \$0\.0125, 2 turn\(s\), 1 commit\(s\)/,
          30_000,
        );
        assert.ok(
          transcript.includes(
            String
              .raw`says: Working on: [slow] [sleep 3] paint \x1b[31mred\x1b[0m and clear \x1b[2J`,
          ),
          transcript,
        );
        assert.match(
          transcript,
          /^ {2}says: step 1 of 5 *\n {2}says: step 2 of 5/m,
          "the screen was not cleared",
        );

        await terminal.press("Escape");
        const back = await terminal.waitFor(
          new RegExp(`^  ${taskId} +${second} +done `, "m"),
          20_000,
        );
        assert.match(back, new RegExp(`^> ${second} .*done \\d+(\\.\\d)?s {2}\\$0\\.0125`, "m"));

        await terminal.press("q");
        const after = await terminal.waitFor(/\[exited \d+\]/);
        assert.match(after, /\[exited 0\]/);
        assert.doesNotMatch(
          after,
          /SHIPS|Flagship/,
          "the main screen is back, the overview gone with the alternate one",
        );
      },
    );

    await t.step("under tmux: Ctrl-C gives the terminal back too", async () => {
      await using terminal = await Terminal.start(watch, environment, { columns: 100, rows: 30 });
      await terminal.waitFor(/^SHIPS \(2\)/m);
      await terminal.press("C-c");
      const after = await terminal.waitFor(/\[exited \d+\]/);
      assert.match(after, /\[exited 130\]/);
      assert.doesNotMatch(after, /SHIPS/);
    });

    await t.step("under tmux: lines are clipped to a narrow terminal", async () => {
      await using terminal = await Terminal.start(watch, environment, { columns: 50, rows: 20 });
      const screen = await terminal.waitFor(/^SHIPS \(2\)/m);
      const lines = screen.split("\n");
      assert.equal(lines.length, 20, "no line wrapped onto another");
      for (const line of lines) assert.ok(textWidth(line) <= 50, line);
      assert.ok(lines.some((line) => line.endsWith("…")), "a long line ends with …");
      await terminal.press("q");
      assert.match(await terminal.waitFor(/\[exited \d+\]/), /\[exited 0\]/);
    });
  } finally {
    await laptop.cli(["fleet", "sink", "--scuttle", "--force"]);
  }
});

/**
 * The plan driver against ships that misbehave in ways a real fleet shows rarely: a ship that
 * stops answering, a flagship that dies between recording an attempt and sending it, and one
 * that dies while its attempts run. The ships are stand-ins that keep what they were sent and
 * finish each message when the test says; the plans database is real (DuckDB in a temporary
 * directory).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { NotFoundError, ServerConnectionError } from "../lib/errors.ts";
import type { FinishedMessage } from "../lib/inbox/message.ts";
import type { OutputChunk } from "../lib/inbox/server_protocol.ts";
import { taskOf } from "../lib/agent/task_command.ts";
import { OUTCOME_TYPE } from "../lib/agent/task_outcome.ts";
import { INTEGRATE_MARK, INTEGRATION_TYPE } from "../lib/agent/integrate.ts";
import { PlanDriver, type PlanShip } from "../lib/plan/plan_driver.ts";
import { PlanStore } from "../lib/plan/plan_store.ts";
import type { PlanEvent, PlanSummary } from "../lib/plan/plan_types.ts";
import { eventually } from "./helpers/local_member.ts";
import { tempDir } from "./helpers/temp_dir.ts";

/** A ship that keeps what it is sent and finishes a message when told. */
class FakeShip implements PlanShip {
  readonly repo = "acme/web";
  /** Every send, in order: the same id twice is one message, as in an inbox. */
  readonly sends: { id: string; command: string }[] = [];
  #unreachable = false;
  readonly #following = new Set<(error: Error) => void>();
  /** Sends never answer, as for a flagship that dies while it sends. */
  sendsHang = false;
  readonly #messages = new Map<string, PromiseWithResolvers<FinishedMessage>>();

  constructor(readonly name: string) {}

  send(command: string, options: { id?: string }): Promise<unknown> {
    if (this.sendsHang) return new Promise(() => {});
    const id = options.id!;
    this.sends.push({ id, command });
    if (!this.#messages.has(id)) this.#messages.set(id, Promise.withResolvers());
    return Promise.resolve({ id });
  }

  readonly inbox = {
    follow: (
      id: string,
      _onOutput: (chunk: OutputChunk) => void,
      options: { signal?: AbortSignal } = {},
    ): Promise<FinishedMessage> => {
      if (this.#unreachable) {
        return Promise.reject(new ServerConnectionError(`${this.name} does not answer`));
      }
      const message = this.#messages.get(id);
      if (!message) return Promise.reject(new NotFoundError(`No message "${id}"`));
      return new Promise((resolve, reject) => {
        this.#following.add(reject);
        message.promise.then(resolve, reject).finally(() => this.#following.delete(reject));
        options.signal?.addEventListener("abort", () => reject(options.signal!.reason));
      });
    },
    cancel: () => Promise.resolve({ outcome: "stopped" }),
  } as unknown as PlanShip["inbox"];

  /** From now on it answers nothing: the follows under way fail as a dropped connection does. */
  goAway(): void {
    this.#unreachable = true;
    for (const reject of this.#following) {
      reject(new ServerConnectionError(`${this.name} does not answer`));
    }
  }

  /** The ids of the agent tasks it was sent, with each one's prompt. */
  tasks(): { id: string; prompt: string }[] {
    return this.sends.flatMap(({ id, command }) => {
      const spec = taskOf(command);
      return spec ? [{ id, prompt: spec.prompt }] : [];
    });
  }

  /**
   * Ends every message it holds that has not ended: agent tasks done (or as `agent` says, for a
   * ship that lies), integrations in.
   */
  finishAll(agent: unknown = { status: "done", costUsd: 0.5, sessionId: "s1" }): number {
    let finished = 0;
    for (const { id, command } of this.sends) {
      const message = this.#messages.get(id)!;
      const line = command.startsWith(INTEGRATE_MARK)
        ? { type: INTEGRATION_TYPE, outcome: { status: "integrated", sha: "f".repeat(40) } }
        : { type: OUTCOME_TYPE, outcome: agent };
      message.resolve(finished_(id, command, JSON.stringify(line)));
      finished++;
    }
    return finished;
  }
}

function finished_(id: string, command: string, result: string): FinishedMessage {
  return {
    id,
    createdAt: new Date().toISOString(),
    sender: "commodore@flagship",
    recipient: "captain@ship",
    command,
    result: result + "\n",
    stderr: "",
    error: null,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    timeoutSec: 60,
    status: "done",
    exitCode: 0,
  };
}

async function driverOn(dir: string, ships: FakeShip[], lostAfterMs = 60_000) {
  const store = await PlanStore.open(join(dir, "plans.duckdb"), "commodore@flagship");
  const driver = await PlanDriver.start({
    store,
    ships: () => Promise.resolve(ships),
    lostAfterMs,
  });
  return {
    driver,
    [Symbol.dispose]() {
      driver.stop();
      store[Symbol.dispose]();
    },
  };
}

async function until(driver: PlanDriver, id: string, done: (plan: PlanSummary) => boolean) {
  return await eventually(
    async () => {
      const plan = await driver.status(id);
      return done(plan) ? plan : undefined;
    },
    10_000,
    `plan ${id}`,
  );
}

Deno.test("a ship that stops answering loses its attempt past the plan's deadline; another ship does the task", async () => {
  await using dir = await tempDir("ohc-plan-driver-");
  const [a, b] = [new FakeShip("ship-a"), new FakeShip("ship-b")];
  using running = await driverOn(dir.path, [a, b]);
  const { driver } = running;
  const plan = await driver.submit({
    reassignAfterMs: 300,
    tasks: [{ id: "only", prompt: "the one task" }],
  }, { ships: ["ship-a", "ship-b"] });
  await eventually(() => Promise.resolve(a.tasks().length === 1 ? true : undefined));
  a.goAway();
  await eventually(
    () => Promise.resolve(b.tasks().length === 1 ? true : undefined),
    10_000,
    "b's task",
  );
  b.finishAll();
  await until(driver, plan.id, (p) => p.tasks[0].status === "integrating");
  b.finishAll();
  const ended = await until(driver, plan.id, (p) => p.status !== "running");
  assert.equal(ended.status, "done");
  assert.equal(ended.tasks[0].ship, "ship-b");
  assert.equal(ended.tasks[0].attempts, 1, "the lost attempt does not count");
  const events: PlanEvent[] = [];
  await driver.follow(plan.id, (event) => events.push(event));
  const lost = events.find((event) => event.type === "reassigned");
  assert.ok(lost);
  assert.equal(lost.ship, "ship-a");
  assert.match(lost.text, /did not answer for 0\.3 s/);
});

Deno.test("a flagship that died between recording an attempt and sending it sends it on start, with the same id", async () => {
  await using dir = await tempDir("ohc-plan-driver-");
  const a = new FakeShip("ship-a");
  a.sendsHang = true;
  let id: string;
  {
    using first = await driverOn(dir.path, [a]);
    id = (await first.driver.submit({ tasks: [{ id: "t", prompt: "do it" }] })).id;
    const recorded = await first.driver.status(id);
    assert.equal(recorded.tasks[0].status, "running", "recorded before it is sent");
    assert.equal(a.sends.length, 0, "nothing reached the ship");
  }
  a.sendsHang = false;
  using second = await driverOn(dir.path, [a]);
  await eventually(
    () => Promise.resolve(a.sends.length === 1 ? true : undefined),
    10_000,
    "the send",
  );
  a.finishAll();
  await until(second.driver, id, (p) => p.tasks[0].status === "integrating");
  a.finishAll();
  const ended = await until(second.driver, id, (p) => p.status !== "running");
  assert.equal(ended.status, "done");
  assert.equal(ended.tasks[0].attempts, 1);
  assert.equal(a.tasks().length, 1, "the task was sent once");
});

Deno.test("a flagship that died while its attempts ran finds them on their ships and sends none again", async () => {
  await using dir = await tempDir("ohc-plan-driver-");
  const [a, b] = [new FakeShip("ship-a"), new FakeShip("ship-b")];
  let id: string;
  {
    using first = await driverOn(dir.path, [a, b]);
    id = (await first.driver.submit({
      tasks: [
        { id: "one", prompt: "one" },
        { id: "two", prompt: "two" },
        { id: "three", prompt: "three", needs: ["one"] },
      ],
    })).id;
    await eventually(() =>
      Promise.resolve(a.sends.length + b.sends.length === 2 ? true : undefined)
    );
  }
  using second = await driverOn(dir.path, [a, b]);
  // Both finish while no driver watched: the new one takes their outcomes in.
  for (let round = 0; round < 10; round++) {
    a.finishAll();
    b.finishAll();
    const plan = await second.driver.status(id);
    if (plan.status !== "running") break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const ended = await until(second.driver, id, (p) => p.status !== "running");
  assert.equal(ended.status, "done");
  const prompts = [...a.tasks(), ...b.tasks()].map((task) => task.prompt.split("\n")[0]).sort();
  assert.deepEqual(prompts, ["one", "three", "two"], "each task sent once");
  const events: PlanEvent[] = [];
  await second.driver.follow(id, (event) => events.push(event));
  assert.deepEqual(events.map((event) => event.seq), events.map((_, i) => i + 1));
  assert.equal(events.filter((event) => event.type === "done").length, 3);
});

Deno.test("a ship's lying outcome neither lowers the plan's cost nor stops the plan", async () => {
  await using dir = await tempDir("ohc-plan-driver-");
  const a = new FakeShip("ship-a");
  using running = await driverOn(dir.path, [a]);
  const { driver } = running;
  const plan = await driver.submit({
    verify: "deno task test",
    maxAttempts: 1,
    tasks: [{ id: "t", prompt: "do it" }],
  }, { budgetUsd: 1 });
  await eventually(() => Promise.resolve(a.sends.length === 1 ? true : undefined));
  a.finishAll({
    status: "error",
    costUsd: -50,
    usage: { inputTokens: "9", outputTokens: -3 },
    verify: { command: "x".repeat(100_000), passed: false, exitCode: 1, output: 5 },
    error: "y".repeat(100_000),
  });
  const ended = await until(driver, plan.id, (p) => p.status !== "running");
  assert.equal(ended.status, "failed");
  assert.equal(ended.costUsd, 0, "a negative cost counts nothing");
  assert.deepEqual([ended.tokens.inputTokens, ended.tokens.outputTokens], [0, 0]);
  const events: PlanEvent[] = [];
  await driver.follow(plan.id, (event) => events.push(event));
  assert.ok(events.every((event) => event.text.length < 2000), "what a ship said is clipped");
  assert.ok(!events.some((event) => event.text.includes("xxxx")), "the plan's own command is told");
});

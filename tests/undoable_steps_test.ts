import assert from "node:assert/strict";
import { InterruptedError, ProviderError } from "../lib/errors.ts";
import { UndoableSteps } from "../lib/fleet/undoable_steps.ts";
import type { FleetProgress } from "../lib/fleet/progress.ts";
import { ProvisionError } from "../lib/fleet/provision.ts";

function stepsFor(signal?: AbortSignal) {
  const progress: FleetProgress["step"][] = [];
  const steps = new UndoableSteps("ship-web-k3f9aaaa", {
    startsAt: "key",
    recovery: "ohcommodore fleet sink",
    onProgress: (event) => progress.push(event.step),
    signal,
  });
  return { steps, progress };
}

const nothing = () => Promise.resolve();

// An undo (or work) that only notes that it ran.
function noting(log: string[], what: string): () => Promise<void> {
  return () => {
    log.push(what);
    return Promise.resolve();
  };
}

// The error a steps throws when `work` fails.
async function failureOf(steps: UndoableSteps, work: Promise<unknown>): Promise<ProvisionError> {
  try {
    await work;
  } catch (error) {
    return await steps.fail(error);
  }
  assert.fail("the work succeeded");
}

Deno.test("a failed steps undoes its steps newest first and names the failed step", async () => {
  const { steps, progress } = stepsFor();
  const undone: string[] = [];
  steps.onUndo(noting(undone, "key file"));
  await steps.step("key", nothing, noting(undone, "key"));
  await steps.step("create", nothing, noting(undone, "vm"));
  const boom = new Error("no answer");
  const error = await failureOf(steps, steps.step("reach", () => Promise.reject(boom)));
  assert.deepEqual(undone, ["vm", "key", "key file"]);
  assert.deepEqual(progress, ["key", "create", "reach"]);
  assert.ok(error instanceof ProvisionError);
  assert.equal(error.step, "reach");
  assert.equal(error.vm, "ship-web-k3f9aaaa");
  assert.equal(error.cause, boom);
  assert.equal(error.exitCode, 1);
  assert.equal(error.message, 'Setting up ship-web-k3f9aaaa failed at step "reach": no answer');
});

Deno.test("a step's undo runs even when its work failed: the work may have taken effect", async () => {
  const { steps } = stepsFor();
  const undone: string[] = [];
  const error = await failureOf(
    steps,
    steps.step("create", () => Promise.reject(new Error("lost")), noting(undone, "vm")),
  );
  assert.deepEqual(undone, ["vm"]);
  assert.equal(error.step, "create");
});

Deno.test("a step the provider refused undoes nothing of it: what it names is another's", async () => {
  const { steps } = stepsFor();
  const undone: string[] = [];
  await steps.step("key", nothing, noting(undone, "key"));
  const taken = new ProviderError('exe.dev refused to create VM "x": it already exists', {
    refused: true,
  });
  const error = await failureOf(
    steps,
    steps.step("create", () => Promise.reject(taken), noting(undone, "vm")),
  );
  assert.deepEqual(undone, ["key"]);
  assert.equal(error.step, "create");
  assert.equal(error.cause, taken);
});

Deno.test("a failure before the first step names the step it starts at", async () => {
  const { steps, progress } = stepsFor();
  const error = await steps.fail(new Error("GH_TOKEN contains a quote"));
  assert.equal(error.step, "key");
  assert.deepEqual(progress, []);
});

Deno.test("one failing undo does not stop the others, and the error says how to finish", async () => {
  const { steps } = stepsFor();
  const undone: string[] = [];
  await steps.step("key", nothing, noting(undone, "key"));
  await steps.step("create", nothing, () => Promise.reject(new Error("lobby down")));
  steps.begin("program");
  const error = await steps.fail(new Error("disk full"));
  assert.deepEqual(undone, ["key"]);
  assert.equal(error.step, "program");
  assert.equal(
    error.message,
    'Setting up ship-web-k3f9aaaa failed at step "program": disk full\n' +
      "Cleaning up ship-web-k3f9aaaa failed too (lobby down)",
  );
  assert.equal(error.next, 'run "ohcommodore fleet sink" to remove what is left');
});

Deno.test("a provisioning error keeps the step it names", async () => {
  const { steps } = stepsFor();
  steps.begin("init.sh");
  const inner = new ProvisionError("ship-web-k3f9aaaa", "key", new Error("whoami failed"));
  assert.equal(await steps.fail(inner), inner);
  assert.equal(inner.step, "key");
});

Deno.test("an interruption stops at the next step, exits 130 and removes what was made", async () => {
  const controller = new AbortController();
  const { steps, progress } = stepsFor(controller.signal);
  const undone: string[] = [];
  await steps.step("create", nothing, noting(undone, "vm"));
  controller.abort(new InterruptedError("interrupted by SIGINT"));
  const ran: string[] = [];
  const error = await failureOf(steps, steps.step("reach", noting(ran, "reach")));
  assert.deepEqual(ran, []);
  assert.deepEqual(progress, ["create"]);
  assert.deepEqual(undone, ["vm"]);
  assert.equal(error.exitCode, 130);
  assert.equal(error.step, "reach");
  assert.equal(
    error.message,
    'Setting up ship-web-k3f9aaaa failed at step "reach": interrupted by SIGINT; ' +
      "what it had made is removed",
  );
});

Deno.test("an interruption is the cause even when the killed work failed first", async () => {
  const controller = new AbortController();
  const { steps } = stepsFor(controller.signal);
  const error = await failureOf(
    steps,
    steps.step("reach", () => {
      controller.abort(new InterruptedError("interrupted by SIGTERM"));
      return Promise.reject(new Error("ssh exited with 255"));
    }),
  );
  assert.ok(error.cause instanceof InterruptedError);
  assert.equal(error.exitCode, 130);
});

Deno.test("a silent step is not reported; done reports ready, unless interrupted", () => {
  const { steps, progress } = stepsFor();
  steps.begin("record", { report: false });
  assert.equal(steps.current, "record");
  steps.done();
  assert.deepEqual(progress, ["ready"]);

  const controller = new AbortController();
  const late = stepsFor(controller.signal);
  controller.abort(new InterruptedError("interrupted by SIGINT"));
  assert.throws(() => late.steps.done(), InterruptedError);
  assert.deepEqual(late.progress, []);
});

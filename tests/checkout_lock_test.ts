/**
 * One agent at a time in a checkout: a second task waits for the first's lock, names it while it
 * waits, and gets the checkout when the first gives it up (or its process ends).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { checkoutLockPath, lockCheckout, WAITING_TYPE } from "../lib/agent/checkout_lock.ts";
import { describeEvent } from "../lib/agent/stream.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("a second task waits for the checkout, names the task that has it, and gets it after", async () => {
  await using home = await tempDir("ohc-checkout-");
  const workdir = join(home.path, "web");
  const first = await lockCheckout(workdir, "task1", { home: home.path });
  const heard: (string | null)[] = [];
  let taken = false;
  const second = lockCheckout(workdir, "task2", {
    home: home.path,
    onWait: (holder) => {
      heard.push(holder);
      return Promise.resolve();
    },
  }).then((lock) => {
    taken = true;
    return lock;
  });
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.deepEqual(heard, ["task1"]);
  assert.equal(taken, false, "not while the first has it");
  first[Symbol.dispose]();
  using _lock = await second;
  assert.equal(await Deno.readTextFile(await checkoutLockPath(workdir, home.path)), "task2");
  // Another checkout of the same member is its own.
  using _other = await lockCheckout(join(home.path, "api"), "task3", {
    home: home.path,
    onWait: () => Promise.reject(new Error("it should not wait")),
  });
});

Deno.test("a checkout held by a process that ends is free again", async () => {
  await using home = await tempDir("ohc-checkout-");
  const workdir = join(home.path, "web");
  const url = new URL("../lib/agent/checkout_lock.ts", import.meta.url).href;
  const script = `import { lockCheckout } from ${JSON.stringify(url)};
    await lockCheckout(${JSON.stringify(workdir)}, "held", { home: ${JSON.stringify(home.path)} });
    console.log("locked");
    await new Promise(() => setTimeout(() => {}, 60_000));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal((await reader.read()).value?.trim(), "locked");
  const heard: (string | null)[] = [];
  const waiting = lockCheckout(workdir, "next", {
    home: home.path,
    onWait: (holder) => {
      heard.push(holder);
      return Promise.resolve();
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 400));
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  using _lock = await waiting;
  assert.deepEqual(heard, ["held"]);
});

Deno.test("a task that waits for its checkout says so in follow's words", () => {
  assert.equal(
    describeEvent(
      JSON.stringify({ type: WAITING_TYPE, task: "0a1b2c3d", checkout: "/home/u/web" }),
    ),
    "waits for task 0a1b2c3d to finish with the checkout /home/u/web",
  );
  assert.equal(
    describeEvent(JSON.stringify({ type: WAITING_TYPE, task: null, checkout: "/home/u/web" })),
    "waits for another task to finish with the checkout /home/u/web",
  );
});

/**
 * `ohcommodore dashboard` in a real browser (Debian's Chromium driven by playwright-core, no
 * browser download) against a fleet on the local provider, with the stand-in claude on the
 * ships' PATH: the real CLI serves the page, the page acts through it, and what the fleet did is
 * checked through the CLI and the inboxes themselves. Screenshots of each view go to
 * tests/output/ (ignored by git).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
// deno-lint-ignore no-import-prefix -- full specifiers, as in lib/deps.ts
import { type Browser, chromium, type Page } from "npm:playwright-core@1.65.2";
import { Inbox } from "../lib/inbox/inbox.ts";
import type { FinishedMessage } from "../lib/inbox/message.ts";
import { eventually, LocalMember } from "./helpers/local_member.ts";
import { localBareRepo } from "./helpers/local_repo.ts";
import { installLocalStandin } from "./helpers/agent_standins.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const OUTPUT = fileURLToPath(new URL("./output/", import.meta.url));
// design.md §10: without the background-networking flags the closed network refuses Chromium.
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// What a hostile README could make an agent print, or a ship send as a note.
const PAYLOAD = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

interface Ship {
  name: string;
  destination: string;
}

// The dashboard as a person runs it: the real CLI, in the laptop's home, until SIGINT.
async function startDashboard(home: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "dashboard", "--json", "--no-open"],
    env: {
      HOME: home,
      NO_COLOR: "1",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  while (!stdout.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`The dashboard ended before printing its address: ${await stderr}`);
    }
    stdout += value;
  }
  const { url } = JSON.parse(stdout.split("\n")[0]) as { url: string };
  const rest = (async () => {
    while (!(await reader.read()).done) { /* nothing more is printed */ }
  })();
  return {
    url,
    origin: new URL(url).origin,
    async stop(): Promise<{ code: number; stderr: string }> {
      child.kill("SIGINT");
      const status = await child.status;
      await rest;
      return { code: status.code, stderr: await stderr };
    },
  };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, `dashboard-${name}.png`), fullPage: true });
}

async function tab(page: Page, name: string): Promise<void> {
  await page.locator(`nav.tabs button[data-tab="${name}"]`).click();
}

// The page's own record of when each transcript line appeared (Date.now(), this machine's
// clock). Given as text: this file is not type-checked against the DOM.
async function watchTranscript(page: Page): Promise<void> {
  await page.evaluate(`
    globalThis.__lines = [];
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node.nodeName === "LI" && node.closest(".transcript .lines")) {
            globalThis.__lines.push({ text: node.textContent, at: Date.now() });
          }
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
  `);
}

async function startTaskFromPage(page: Page, ship: string, prompt: string): Promise<string> {
  await tab(page, "fleet");
  for (const box of await page.locator("tr[data-ship] input[type=checkbox]").all()) {
    const mine = (await box.getAttribute("aria-label")) === `choose ${ship}`;
    if ((await box.isChecked()) !== mine) await box.setChecked(mine);
  }
  await page.locator("form.new-task textarea").fill(prompt);
  await page.locator("form.new-task button[type=submit]").click();
  const transcript = page.locator("aside.transcript");
  await transcript.waitFor();
  const id = await transcript.getAttribute("data-task");
  assert.ok(id);
  await page.locator(".notice.ok", { hasText: `Started ${id} on ${ship}` }).waitFor();
  return id;
}

Deno.test("the dashboard shows the fleet live in a browser, acts through the library, and keeps what ships say as text", async (t) => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const repo = await localBareRepo(laptop.home);
  const init = await laptop.cli(["init", "--provider", "local", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  const flagshipHome = JSON.parse(init.stdout).flagship as string;
  let browser: Browser | undefined;
  let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
  try {
    const created = await laptop.cli(["ship", "create", repo, "--count", "2", "--json"]);
    assert.equal(created.code, 0, created.stderr);
    const ships = (JSON.parse(created.stdout) as Ship[]).sort((a, b) =>
      a.name.localeCompare(b.name)
    );
    for (const ship of ships) await installLocalStandin(ship.destination);
    dashboard = await startDashboard(laptop.home);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    const flagship = await Inbox.open({ home: flagshipHome });
    const { origin } = dashboard;

    await t.step("the page lists the ships, and the token leaves the address bar", async () => {
      await page.goto(dashboard!.url);
      for (const ship of ships) await page.locator(`tr[data-ship="${ship.name}"]`).waitFor();
      assert.doesNotMatch(page.url(), /token/);
      const cookies = await context.cookies();
      assert.equal(cookies.length, 1);
      assert.equal(cookies[0].httpOnly, true);
      assert.equal(cookies[0].sameSite, "Strict");
      await screenshot(page, "fleet");
      assert.deepEqual(pageErrors, []);
    });

    await t.step("a request without the token gets 401, whatever it asks for", async () => {
      for (const path of ["/", "/assets/app.js", "/assets/preact.mjs", "/api/snapshot"]) {
        const response = await fetch(`${origin}${path}`);
        assert.equal(response.status, 401, path);
        await response.body?.cancel();
      }
      const wrong = await fetch(`${origin}/?token=not-the-token`, { redirect: "manual" });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const events = await fetch(`${origin}/api/events`);
      assert.equal(events.status, 401);
      await events.body?.cancel();
      const post = await fetch(`${origin}/api/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "hi", ships: [ships[0].name] }),
      });
      assert.equal(post.status, 401);
      await post.body?.cancel();
    });

    await t.step("the page's answers forbid inline script and other origins", async () => {
      const response = await page.request.get(`${origin}/`);
      const policy = response.headers()["content-security-policy"];
      assert.match(policy, /script-src 'self'(;|$)/);
      assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
      assert.match(policy, /default-src 'none'/);
    });

    await t.step(
      "a task started from the page shows its lines within a second of the agent writing them",
      async () => {
        await watchTranscript(page);
        await startTaskFromPage(page, ships[0].name, `${PAYLOAD} [slow]`);
        const outcome = page.locator("aside.transcript .outcome");
        await outcome.waitFor({ timeout: 60_000 });
        assert.match(await outcome.innerText(), /done/);
        // The stand-in notes when it started; it says "step i of 5" at least (i-1)·400 ms later.
        const calls = (await Deno.readTextFile(
          join(ships[0].destination, ".claude-standin", "calls.jsonl"),
        )).trim().split("\n").map((line) => JSON.parse(line) as { at: number; prompt: string });
        const started = calls.find((call) => call.prompt.includes("[slow]"))!.at;
        const shown = await page.evaluate("globalThis.__lines") as { text: string; at: number }[];
        for (let step = 1; step <= 5; step++) {
          const line = shown.find((line) => line.text === `says: step ${step} of 5`);
          assert.ok(line, `step ${step} shown: ${JSON.stringify(shown)}`);
          const written = started + (step - 1) * 400;
          assert.ok(
            line.at - written < 1000,
            `step ${step} shown ${line.at - written} ms after it was written`,
          );
        }
        await screenshot(page, "transcript");
        assert.deepEqual(pageErrors, []);
      },
    );

    await t.step("what the agent printed stays text: nothing of it runs", async () => {
      const said = page.locator("aside.transcript .lines li", { hasText: "says: Working on:" });
      assert.equal(await said.innerText(), `says: Working on: ${PAYLOAD} [slow]`);
      assert.equal(await page.locator("aside.transcript img, #app script").count(), 0);
      await page.locator("aside.transcript button[aria-label=close]").click();
      // The task's prompt in the task list is text too.
      await page.locator("table.tasks td.prompt", { hasText: PAYLOAD }).first().waitFor();
      assert.equal(await page.locator("table.tasks img").count(), 0);
      assert.equal(
        await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
        undefined,
      );
    });

    await t.step("cancel from the page stops a running task", async () => {
      const id = await startTaskFromPage(page, ships[1].name, "wait a long time [stall 120]");
      const transcript = page.locator("aside.transcript");
      await transcript.locator(".lines li", { hasText: "session" }).waitFor({ timeout: 30_000 });
      await transcript.locator("button.danger", { hasText: "Cancel" }).click();
      await page.locator(".notice.ok", { hasText: `Cancel task ${id}: stopped` }).waitFor({
        timeout: 30_000,
      });
      await transcript.locator(".outcome").waitFor({ timeout: 30_000 });
      assert.match(await transcript.locator(".outcome").innerText(), /cancelled/);
      const shown = await laptop.cli(["agent", "show", id, "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(JSON.parse(shown.stdout).status, "cancelled");
      await page.locator("aside.transcript button[aria-label=close]").click();
    });

    await t.step(
      "a held command is approved from the page and then runs; one is deleted",
      async () => {
        const sender = `captain@${ships[0].name}`;
        // As the relay stores a keyless ship's command that the policy holds for a person.
        const held = await flagship.deliver({
          recipient: flagship.address,
          sender,
          command: "echo approved from the page",
          hold: true,
        });
        const unwanted = await flagship.deliver({
          recipient: flagship.address,
          sender,
          command: "rm -rf ~/precious",
          hold: true,
        });
        await tab(page, "inbox");
        await page.locator(`ul.held li[data-message="${held.id}"]`).waitFor({ timeout: 10_000 });
        await screenshot(page, "inbox");
        await page.locator(`ul.held li[data-message="${unwanted.id}"] button`, {
          hasText: "Delete",
        })
          .click();
        await page.locator(`ul.held li[data-message="${held.id}"] button`, { hasText: "Approve" })
          .click();
        await page.locator(".notice.ok", { hasText: `Approve ${held.id}` }).waitFor();
        const ran = await flagship.waitFor(held.id, { timeoutMs: 30_000 }) as FinishedMessage;
        assert.equal(ran.status, "done");
        assert.equal(ran.result, "approved from the page\n");
        await assert.rejects(flagship.get(unwanted.id), /Cannot find message/);
        await page.locator(`ul.held li[data-message="${held.id}"]`).waitFor({
          state: "detached",
          timeout: 10_000,
        });
      },
    );

    await t.step("a note holding markup is shown as text, and nothing of it runs", async () => {
      const note = await flagship.deliver({
        recipient: flagship.address,
        sender: `captain@${ships[1].name}`,
        command: `${PAYLOAD} <b>bold</b>`,
        kind: "note",
      });
      const shown = page.locator(`ul.notes li[data-message="${note.id}"] pre`);
      await shown.waitFor({ timeout: 10_000 });
      assert.equal(await shown.innerText(), `${PAYLOAD} <b>bold</b>`);
      assert.equal(await page.locator("ul.notes img, ul.notes b, ul.notes script").count(), 0);
      assert.equal(
        await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
        undefined,
      );
      await screenshot(page, "inbox");
    });

    await t.step(
      "a POST from another origin is refused, with or without the browser's cookie",
      async () => {
        const before = await flagship.deliver({
          recipient: flagship.address,
          sender: `captain@${ships[0].name}`,
          command: "echo nobody approved me",
          hold: true,
        });
        // A page of another origin on this machine (same site: the cookie goes with it).
        await using other = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen: () => {} },
          () =>
            new Response(
              `<!doctype html><form method="post" action="${origin}/api/held/${before.id}/approve">` +
                `</form>`,
              { headers: { "content-type": "text/html" } },
            ),
        );
        const attacker = await context.newPage();
        await attacker.goto(`http://127.0.0.1:${other.addr.port}/`);
        const answers: number[] = [];
        attacker.on("response", (response) => answers.push(response.status()));
        await attacker.evaluate(`
        fetch(${JSON.stringify(`${origin}/api/held/${before.id}/approve`)}, {
          method: "POST",
          mode: "no-cors",
          credentials: "include",
          headers: { "content-type": "text/plain" },
          body: "{}",
        }).catch(() => {}).then(() => document.querySelector("form").submit());
      `);
        await attacker.waitForLoadState();
        await attacker.close();
        assert.ok(
          answers.every((status) => status >= 400),
          JSON.stringify(answers),
        );
        // With the token itself, but from another origin: refused all the same.
        const cookie = (await context.cookies())[0];
        const forged = await fetch(`${origin}/api/held/${before.id}/approve`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            cookie: `${cookie.name}=${cookie.value}`,
            origin: "http://evil.example",
          },
          body: "{}",
        });
        assert.equal(forged.status, 403);
        assert.match(await forged.text(), /another origin/);
        const crossSite = await fetch(`${origin}/api/held/${before.id}/approve`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            cookie: `${cookie.name}=${cookie.value}`,
            "sec-fetch-site": "cross-site",
          },
          body: "{}",
        });
        assert.equal(crossSite.status, 403);
        await crossSite.body?.cancel();
        assert.equal((await flagship.get(before.id)).status, "held");
        await flagship.delete(before.id);
        // From the page's own origin, an action that cannot be done says why, as data.
        const gone = await page.request.post(`${origin}/api/held/${before.id}/approve`, {
          headers: { "content-type": "application/json", origin },
          data: "{}",
        });
        assert.equal(gone.status(), 404);
        assert.equal((await gone.json()).error.name, "NotFoundError");
      },
    );

    await t.step(
      "a plan shows as a board while the fleet works through it, and is cancelled from the page",
      async () => {
        const plan = join(laptop.home, "release.json");
        await Deno.writeTextFile(
          plan,
          JSON.stringify({
            tasks: [
              { id: "parser", prompt: "Add the parser [file parser.txt] [sleep 3]" },
              { id: "docs", prompt: "Write the docs [file docs.txt] [sleep 1]" },
              { id: "cli", prompt: "Use the parser [file cli.txt] [sleep 3]", needs: ["parser"] },
              { id: "release", prompt: "Tag it [file notes.txt]", needs: ["cli", "docs"] },
            ],
          }),
        );
        const ran = await laptop.cli([
          "plan",
          "run",
          plan,
          "--integrate",
          "release",
          "--budget",
          "1",
          "--json",
        ]);
        assert.equal(ran.code, 0, ran.stderr);
        const planId = JSON.parse(ran.stdout).id as string;
        await tab(page, "plans");
        const board = page.locator(`article.plan[data-plan="${planId}"]`);
        await board.waitFor({ timeout: 20_000 });
        // The fleet at work: tasks done, one being worked on, one waiting for it (the picture
        // docs/dashboard.png shows), without the notices of earlier steps.
        const notices = page.locator(".notice button");
        // (one may go by itself between the count and the click)
        while (await notices.count()) {
          await notices.first().click({ timeout: 2000 }).catch(() => {});
        }
        const cards = (column: string) =>
          board.locator(`.column[data-column="${column}"] .card`).count();
        await eventually(
          async () => (await cards("Done") >= 2 && await cards("Working") >= 1) || undefined,
          60_000,
          "two tasks done and one at work",
        );
        await screenshot(page, "plan");
        await board.locator(".badge", { hasText: /^done$/ }).first().waitFor();
        await eventually(
          async () =>
            (await board.locator('.column[data-column="Done"] .card').count()) === 4 || undefined,
          120_000,
          "every task of the plan done on the board",
        );
        await board.locator("ol.events li", { hasText: "ended" }).first().waitFor({
          timeout: 20_000,
        });

        const long = join(laptop.home, "long.json");
        await Deno.writeTextFile(
          long,
          JSON.stringify({ tasks: [{ id: "slow", prompt: "Take your time [stall 120]" }] }),
        );
        const second = await laptop.cli(["plan", "run", long, "--json"]);
        assert.equal(second.code, 0, second.stderr);
        const secondId = JSON.parse(second.stdout).id as string;
        const running = page.locator(`article.plan[data-plan="${secondId}"]`);
        await running.locator('.column[data-column="Working"] .card').waitFor({ timeout: 30_000 });
        await running.locator("button", { hasText: "Cancel plan" }).click();
        await page.locator(".notice.ok", { hasText: `Cancel plan ${secondId}: cancelled` }).waitFor(
          {
            timeout: 30_000,
          },
        );
        const status = await laptop.cli(["plan", "status", secondId, "--json"]);
        assert.equal(JSON.parse(status.stdout).status, "cancelled");
      },
    );

    await t.step("costs per ship and over time are drawn", async () => {
      await tab(page, "costs");
      await page.locator("svg.bars rect").first().waitFor({ timeout: 20_000 });
      await page.locator("svg.over-time path").first().waitFor({ timeout: 20_000 });
      await screenshot(page, "costs");
      assert.deepEqual(pageErrors, []);
    });
  } finally {
    await browser?.close();
    if (dashboard) {
      const stopped = await dashboard.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
    const sunk = await laptop.cli(["fleet", "sink", "--scuttle", "--force"]);
    assert.equal(sunk.code, 0, sunk.stderr);
  }
});

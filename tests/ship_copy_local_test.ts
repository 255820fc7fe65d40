/**
 * Ships made by copying on the local provider, through the real CLI: a sandbox's directory is
 * copied and the copy made a sandbox of its own, beside its source, on this machine.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalProvider } from "../lib/providers/local.ts";
import { readIdentity } from "../lib/identity.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { tempDir } from "./helpers/temp_dir.ts";

async function git(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("git", { args }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout).trim();
}

async function bareRepo(dir: string): Promise<{ url: string; work: string }> {
  const repo = join(dir, "tools.git");
  const work = join(dir, "work");
  await git("init", "--quiet", "--bare", "--initial-branch=main", repo);
  await git("clone", "--quiet", repo, work);
  await commit(work, "README.md", "tools\n");
  return { url: `file://${repo}`, work };
}

async function commit(work: string, file: string, text: string): Promise<string> {
  await Deno.writeTextFile(join(work, file), text);
  await git("-C", work, "add", file);
  await git("-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", file);
  await git("-C", work, "push", "--quiet", "origin", "HEAD:main");
  return await git("-C", work, "rev-parse", "HEAD");
}

Deno.test("the local provider copies a sandbox whole but for sockets, aside, then renamed", async () => {
  await using root = await tempDir("ohc-copy-");
  const provider = new LocalProvider(root.path);
  const vm = await provider.create("ship-web-k3f9aaaa");
  await Deno.mkdir(join(vm.destination, "web/.git"), { recursive: true });
  await Deno.writeTextFile(join(vm.destination, "web/run.sh"), "echo hi\n", { mode: 0o755 });
  await Deno.chmod(join(vm.destination, "web/run.sh"), 0o755);
  await Deno.symlink("web/run.sh", join(vm.destination, "link"));
  const listener = Deno.listen({ transport: "unix", path: join(vm.destination, "s.sock") });
  try {
    const copy = await provider.copy("ship-web-k3f9aaaa", "ship-web-k3f9bbbb");
    assert.equal(copy.destination, join(root.path, "ship-web-k3f9bbbb"));
    const script = await Deno.stat(join(copy.destination, "web/run.sh"));
    assert.equal(script.mode! & 0o777, 0o755);
    assert.equal(await Deno.readLink(join(copy.destination, "link")), "web/run.sh");
    await assert.rejects(Deno.lstat(join(copy.destination, "s.sock")), Deno.errors.NotFound);
    assert.deepEqual((await provider.list()).map((vm) => vm.name), [
      "ship-web-k3f9aaaa",
      "ship-web-k3f9bbbb",
    ]);
    await assert.rejects(provider.copy("ship-web-k3f9aaaa", "ship-web-k3f9bbbb"), /already exists/);
    await assert.rejects(provider.copy("ship-nope-k3f9cccc", "ship-web-k3f9dddd"), /No sandbox/);
    const left = [...Deno.readDirSync(root.path)].map((entry) => entry.name).sort();
    assert.deepEqual(left, ["ship-web-k3f9aaaa", "ship-web-k3f9bbbb"], "no half copy is left");
  } finally {
    listener.close();
  }
});

Deno.test({
  name: "local fleet: ship create --from copies a sandbox, made its own, beside its source",
  sanitizeResources: false,
  async fn(t) {
    await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
    const sandboxes = join(laptop.home, ".ohcommodore", "sandboxes");
    const { url, work } = await bareRepo(laptop.home);
    const cli = async (args: string[]) => {
      const result = await laptop.cli(args);
      return { ...result, json: () => JSON.parse(result.stdout) };
    };
    assert.equal((await cli(["init", "--provider", "local"])).code, 0);
    const made = await cli(["ship", "create", url, "--json"]);
    assert.equal(made.code, 0, made.stderr);
    const source: string = made.json()[0].name;
    const sent = await cli([
      "inbox",
      "send",
      `captain@${source}`,
      "echo source-was-here",
      "--wait",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    await Deno.writeTextFile(join(sandboxes, source, "tools", "scratch.txt"), "mine\n");
    const head = await commit(work, "NEWS.md", "later\n");
    const sourceIdentity = await readIdentity(join(sandboxes, source));

    const copied = await cli(["ship", "create", url, "--from", source, "--json"]);
    assert.equal(copied.code, 0, copied.stderr);
    const copy: string = copied.json()[0].name;
    const home = join(sandboxes, copy);

    await t.step("the copy is a sandbox of its own, at origin's head", async () => {
      assert.equal(copied.json()[0].copiedFrom, source);
      const identity = await readIdentity(home);
      assert.equal(identity.name, copy);
      assert.equal(identity.home, home);
      assert.equal(identity.workdir, join(home, "tools"));
      assert.equal(await git("-C", join(home, "tools"), "rev-parse", "HEAD"), head);
      await assert.rejects(Deno.stat(join(home, "tools", "scratch.txt")));
      const inbox = await cli(["inbox", "send", `captain@${copy}`, "pwd", "--wait"]);
      assert.equal(inbox.stdout.trim(), join(home, "tools"), "its commands run in its checkout");
      const status = await cli(["fleet", "status", "--json"]);
      const ships = status.json().ships as {
        name: string;
        report: { address: string; counts: Record<string, number> };
      }[];
      const own = ships.find((ship) => ship.name === copy)!;
      assert.equal(own.report.address, `captain@${copy}`);
      assert.equal(own.report.counts.done, 1, "only the command sent to it");
    });

    await t.step("the source sandbox is left as it was, its scheduler running", async () => {
      assert.deepEqual(await readIdentity(join(sandboxes, source)), sourceIdentity);
      assert.ok((await Deno.stat(join(sandboxes, source, "tools", "scratch.txt"))).isFile);
      const again = await cli(["inbox", "send", `captain@${source}`, "echo still-me", "--wait"]);
      assert.equal(again.stdout.trim(), "still-me");
      const listed = await laptop.cli(["inbox", "list", "--json"], {
        env: { HOME: join(sandboxes, source) },
      });
      const rows = JSON.parse(listed.stdout) as { command: string }[];
      assert.ok(rows.some((row) => row.command === "echo source-was-here"));
    });

    await t.step("a template's copies, and sinking them all", async () => {
      assert.equal((await cli(["ship", "template", source])).code, 0);
      const next = await cli(["ship", "create", url, "--json"]);
      assert.equal(next.code, 0, next.stderr);
      assert.equal(next.json()[0].copiedFrom, source);
      const sunk = await cli(["fleet", "sink", "--scuttle", "--force", "--json"]);
      assert.equal(sunk.code, 0, sunk.stderr);
      assert.deepEqual([...Deno.readDirSync(sandboxes)], []);
    });
  },
});

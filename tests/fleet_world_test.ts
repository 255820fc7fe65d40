/**
 * The exe.dev lobby fixture over real SSH, driven with plain `ssh` as the laptop user: what the
 * CLI will rely on when it creates, reaches and removes VMs.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePublicKey, splitCommand } from "./helpers/exedev_lobby.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { keygenArgs, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const unavailable = sshWorldUnavailable();
if (unavailable) console.error(`skipping fleet world tests: ${unavailable}`);

function e2e(name: string, fn: () => Promise<void>) {
  Deno.test({ name, fn, ignore: unavailable !== undefined, sanitizeResources: false });
}

/** Plain ssh as a user of the world; never prompts. */
function ssh(world: FleetWorld, user: string, args: string[]) {
  return world.execAs(user, ["ssh", "-o", "BatchMode=yes", ...args], { timeoutMs: 30_000 });
}

/** `ssh exe.dev <words>` as the laptop; a successful run's stdout parsed as JSON. */
async function lobbyJson(world: FleetWorld, words: string[]) {
  const result = await ssh(world, world.laptop.user, ["exe.dev", ...words]);
  assert.equal(result.code, 0, `${words.join(" ")}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

Deno.test("the lobby splits commands like a shell and checks public keys", () => {
  assert.deepEqual(splitCommand(`ssh-key add "ssh-ed25519 AAAA a \\"b\\" c"  x\\ y 'it''s' ""`), [
    "ssh-key",
    "add",
    'ssh-ed25519 AAAA a "b" c',
    "x y",
    "its",
    "",
  ]);
  assert.throws(() => splitCommand(`rm "vm`), /unterminated/);
  const blob = "AAAAC3NzaC1lZDI1NTE5AAAAINdtot7+04Y79GlQ9evhl50QFDo9KcRLc8p4SOSUtq06";
  assert.deepEqual(parsePublicKey(` ssh-ed25519 ${blob} me @ laptop `), {
    type: "ssh-ed25519",
    blob,
    comment: "me @ laptop",
  });
  assert.match(String(parsePublicKey(`ssh-rsa ${blob}`)), /not a ssh-rsa key/);
  assert.match(String(parsePublicKey("ssh-ed25519 not*base64")), /base64/);
  assert.match(String(parsePublicKey("hello")), /expected a public key/);
});

interface NewVm {
  vm_name: string;
  ssh_dest: string;
  ssh_host: string;
  https_url: string;
  status: string;
  region: string;
}

e2e("the lobby creates, lists, reaches and removes VMs over real ssh", async () => {
  await using world = await FleetWorld.start();
  const laptop = world.laptop.user;
  assert.match(laptop, /^ohc[a-z0-9]{4}-l$/);

  const whoami = await ssh(world, laptop, ["exe.dev", "whoami"]);
  assert.deepEqual(whoami, { code: 0, stdout: `${world.email}\n`, stderr: "" });
  assert.deepEqual(await lobbyJson(world, ["ls", "--json"]), { vms: [] });

  const created: NewVm = await lobbyJson(world, [
    "new",
    "--json",
    "--name=vm-one",
    "--no-email",
    "--env",
    `'GH_TOKEN=tok en'`,
    "--env",
    "TARGET_REPO=owner/repo",
  ]);
  const user = world.vmUser("vm-one");
  assert.match(user, new RegExp(`^ohc${world.tag}-\\d+$`));
  assert.deepEqual(created, {
    vm_name: "vm-one",
    ssh_dest: `${user}@vm-one.exe.xyz`,
    ssh_host: "vm-one.exe.xyz",
    https_url: "https://vm-one.exe.xyz/",
    status: "running",
    region: "lo1",
  });
  // ssh joins its words with spaces; the lobby splits them again, honouring quotes.
  const [vm] = world.lobbyVms();
  assert.equal(vm.home, world.vmHome("vm-one"));
  assert.deepEqual(vm.env, { GH_TOKEN: "tok en", TARGET_REPO: "owner/repo" });
  assert.deepEqual(await lobbyJson(world, ["ls", "--json"]), { vms: [created] });

  const onVm = await ssh(world, laptop, [created.ssh_dest, "whoami; pwd"]);
  assert.deepEqual(onVm, {
    code: 0,
    stdout: `${user}\n${world.vmHome("vm-one")}\n`,
    stderr: "",
  });
  // From the VM, with the laptop's key forwarded, as `ssh -A <flagship> ...` does.
  const forwarded = await world.execAs(laptop, [
    "ssh-agent",
    "sh",
    "-c",
    'ssh-add -q ~/.ssh/id_ed25519 && ssh -A -o BatchMode=yes "$0" ssh exe.dev ls --json',
    created.ssh_dest,
  ]);
  assert.equal(forwarded.code, 0, forwarded.stderr);
  assert.deepEqual(JSON.parse(forwarded.stdout), { vms: [created] });
  // Without the agent the VM has no key the lobby knows.
  const noAgent = await ssh(world, laptop, [created.ssh_dest, "ssh -o BatchMode=yes exe.dev ls"]);
  assert.equal(noAgent.code, 255, noAgent.stdout);

  const duplicate = await ssh(world, laptop, ["exe.dev", "new", "--json", "--name=vm-one"]);
  assert.equal(duplicate.code, 1);
  assert.match(JSON.parse(duplicate.stdout).error, /already exists/);
  for (const bad of ["--name=web-12", "--name=Web", "--name=-x", "--name=a_b", "--no-email"]) {
    const result = await ssh(world, laptop, ["exe.dev", "new", "--json", bad]);
    assert.equal(result.code, 1, bad);
    assert.equal(typeof JSON.parse(result.stdout).error, "string", bad);
  }
  const unknown = await ssh(world, laptop, ["exe.dev", "sh", "-c", "id"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown command "sh"/);
  assert.equal(unknown.stdout, "");

  // Another user can clone the fixture repository.
  const url = await world.bareRepo("demo");
  const clone = await world.execAs(user, ["git", "clone", "-q", url, "demo"]);
  assert.equal(clone.code, 0, clone.stderr);
  const readme = await Deno.readTextFile(join(world.vmHome("vm-one"), "demo", "README.md"));
  assert.match(readme, /^# demo/);

  await lobbyJson(world, ["new", "--json", "--name=vm-two", "--no-email"]);
  const home = world.vmHome("vm-one");
  const removed = await ssh(world, laptop, ["exe.dev", "rm", "vm-one", "ghost", "vm-two"]);
  assert.equal(removed.code, 1);
  assert.equal(removed.stdout, "Deleted vm-one\nDeleted vm-two\n");
  assert.match(removed.stderr, /"ghost" not found/);
  assert.deepEqual(await lobbyJson(world, ["ls", "--json"]), { vms: [] });
  assert.equal((await ssh(world, laptop, [created.ssh_dest, "true"])).code, 255);
  assert.equal((await new Deno.Command("id", { args: [user] }).output()).code, 1, "user removed");
  await assert.rejects(Deno.stat(home), Deno.errors.NotFound);

  const verbs = world.lobbyCalls().map((call) => call.argv[0]);
  assert.equal(verbs.filter((verb) => verb === "new").length, 8);
  assert.equal(verbs.filter((verb) => verb === "rm").length, 1);
});

e2e("ssh-key add lets a new key reach the lobby and the VMs; remove revokes it", async () => {
  await using world = await FleetWorld.start();
  const laptop = world.laptop.user;
  const created: NewVm = await lobbyJson(world, ["new", "--json", "--name=box", "--no-email"]);
  const home = world.laptop.home;
  const keygen = await world.execAs(
    laptop,
    keygenArgs(join(home, "fresh"), "fresh key, with spaces"),
  );
  assert.equal(keygen.code, 0, keygen.stderr);
  const fresh = (await Deno.readTextFile(join(home, "fresh.pub"))).trim();
  const [type, blob] = fresh.split(" ");
  // An ssh config that offers only the fresh key.
  const config = join(home, "fresh_config");
  await Deno.writeTextFile(
    config,
    [
      "Host exe.dev",
      `  User ${world.lobby.user}`,
      "Host *",
      "  HostName 127.0.0.1",
      `  Port ${world.port}`,
      `  IdentityFile ${join(home, "fresh")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(home, ".ssh", "known_hosts")}`,
      "",
    ].join("\n"),
  );
  const withFresh = (args: string[]) => ssh(world, laptop, ["-F", config, ...args]);
  assert.equal((await withFresh(["exe.dev", "whoami"])).code, 255, "not registered yet");

  const added = await ssh(world, laptop, ["exe.dev", "ssh-key", "add", `"${fresh}"`]);
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(world.lobbyKeys().slice(1), [fresh]);
  const again = await ssh(world, laptop, ["exe.dev", "ssh-key", "add", `"${fresh}"`]);
  assert.equal(again.code, 1, "a key is registered once");

  const listed = await lobbyJson(world, ["ssh-key", "list", "--json"]);
  assert.equal(listed.ssh_keys.length, 2);
  assert.deepEqual(
    listed.ssh_keys.map((key: Record<string, unknown>) => [key.comment, key.current]),
    [[laptop, true], ["fresh key, with spaces", false]],
  );
  const asFresh = await withFresh(["exe.dev", "ssh-key", "list", "--json"]);
  assert.equal(asFresh.code, 0, asFresh.stderr);
  const current = JSON.parse(asFresh.stdout).ssh_keys.filter((key: { current: boolean }) =>
    key.current
  );
  assert.deepEqual(current.map((key: { public_key: string }) => key.public_key), [
    `${type} ${blob}`,
  ]);
  const onVm = await withFresh([created.ssh_dest, "whoami"]);
  assert.deepEqual(onVm, { code: 0, stdout: `${world.vmUser("box")}\n`, stderr: "" });

  // Matched on type and key, whatever the comment.
  const removed = await ssh(world, laptop, ["exe.dev", "ssh-key", "remove", `"${type} ${blob}"`]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(world.lobbyKeys().length, 1);
  assert.equal((await withFresh(["exe.dev", "whoami"])).code, 255, "lobby revoked");
  assert.equal((await withFresh([created.ssh_dest, "true"])).code, 255, "vm revoked");
  assert.equal((await ssh(world, laptop, [created.ssh_dest, "true"])).code, 0, "laptop still in");
  const gone = await ssh(world, laptop, ["exe.dev", "ssh-key", "remove", `"${fresh}"`]);
  assert.equal(gone.code, 1);

  // The laptop's launcher runs the CLI; the ship launcher runs it for any user.
  const version = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)))
    .version;
  assert.deepEqual(await world.cli(["--version"]), { code: 0, stdout: `${version}\n`, stderr: "" });
  const onShip = await world.execAs(world.vmUser("box"), [world.shipBin, "--version"]);
  assert.deepEqual(onShip, { code: 0, stdout: `${version}\n`, stderr: "" });
});

e2e("two worlds run side by side; a booting VM refuses connections until it boots", async () => {
  const started = await Promise.allSettled([
    FleetWorld.start(),
    FleetWorld.start({ bootDelayMs: 3000 }),
  ]);
  const worlds = started.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    // The world that did start is removed too, or its users outlive the test.
    for (const world of worlds) await world[Symbol.asyncDispose]();
    throw failed.reason;
  }
  await using a = worlds[0];
  await using b = worlds[1];
  assert.notEqual(a.tag, b.tag);
  assert.notEqual(a.laptop.user, b.laptop.user);

  const [inA, inB]: NewVm[] = await Promise.all(
    [a, b].map((world) => lobbyJson(world, ["new", "--json", "--name=vm-one", "--no-email"])),
  );
  // b's VM boots late; a's at once. Checked first, while b's boot delay surely runs.
  assert.equal(b.lobbyVms()[0].booted, false);
  // Refused before any key exchange, as an exe.dev VM whose sshd is not up yet.
  const early = await ssh(b, b.laptop.user, [inB.ssh_dest, "true"]);
  assert.equal(early.code, 255);
  assert.match(early.stderr, /Connection refused/);
  assert.equal((await ssh(a, a.laptop.user, [inA.ssh_dest, "true"])).code, 0);
  assert.notEqual(a.vmUser("vm-one"), b.vmUser("vm-one"));
  assert.deepEqual(await lobbyJson(a, ["ls", "--json"]), { vms: [inA] });
  assert.deepEqual(await lobbyJson(b, ["ls", "--json"]), { vms: [inB] });
  const deadline = Date.now() + 10_000;
  let reached = await ssh(b, b.laptop.user, [inB.ssh_dest, "whoami"]);
  while (reached.code !== 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    reached = await ssh(b, b.laptop.user, [inB.ssh_dest, "whoami"]);
  }
  assert.equal(reached.stdout, `${b.vmUser("vm-one")}\n`);

  // a's laptop key means nothing to b's lobby.
  const across = await ssh(a, a.laptop.user, [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-p",
    String(b.port),
    `${b.lobby.user}@127.0.0.1`,
    "whoami",
  ]);
  assert.equal(across.code, 255);

  const aUsers = [a.laptop.user, a.lobby.user, a.vmUser("vm-one")];
  await a[Symbol.asyncDispose]();
  for (const user of aUsers) {
    assert.equal((await new Deno.Command("id", { args: [user] }).output()).code, 1, user);
  }
  await assert.rejects(Deno.stat(a.dir), Deno.errors.NotFound);
  const still = await ssh(b, b.laptop.user, ["exe.dev", "whoami"]);
  assert.deepEqual(still, { code: 0, stdout: `${b.email}\n`, stderr: "" });
});

e2e("the lobby copies a VM whole but for its processes, side by side, and says how", async () => {
  await using world = await FleetWorld.start();
  const laptop = world.laptop.user;
  const help = await ssh(world, laptop, ["exe.dev", "help", "cp"]);
  assert.match(help.stdout, /^Usage: cp <source-vm> \[new-name\] .*\[--json\]/);
  await lobbyJson(world, ["new", "--json", "--name=vm-src", "--no-email", "--env", "A=1"]);
  const home = world.vmHome("vm-src");
  await world.execAs(world.vmUser("vm-src"), [
    "sh",
    "-c",
    "echo kept > kept.txt; sleep 60 >/dev/null 2>&1 &",
  ]);
  const copies = await Promise.all(
    ["vm-copy-a", "vm-copy-b", "vm-copy-c"].map((name) =>
      lobbyJson(world, ["cp", "vm-src", name, "--json"])
    ),
  );
  for (const copy of copies) {
    const user = world.vmUser(copy.vm_name);
    assert.notEqual(user, world.vmUser("vm-src"), "a copy is a user of its own");
    assert.equal(copy.ssh_dest, `${user}@${copy.vm_name}.exe.xyz`);
    const kept = await ssh(world, laptop, [copy.ssh_dest, "cat", "kept.txt"]);
    assert.equal(kept.stdout, "kept\n", "its home is the source's, copied");
    const processes = await ssh(world, laptop, [copy.ssh_dest, "pgrep", "-u", user, "sleep"]);
    assert.equal(processes.stdout, "", "its processes are not copied");
  }
  assert.deepEqual(world.lobbyVms().find((vm) => vm.name === "vm-copy-a")?.env, { A: "1" });
  assert.equal(await Deno.readTextFile(join(home, "kept.txt")), "kept\n");
  const named = await lobbyJson(world, ["cp", "vm-src", "--json"]);
  assert.match(named.vm_name, /^vm-src-copy-[a-z]{6}$/);
  const taken = await ssh(world, laptop, ["exe.dev", "cp", "vm-src", "vm-copy-a", "--json"]);
  assert.equal(taken.code, 1);
  assert.match(JSON.parse(taken.stdout).error, /already exists/);
  const missing = await ssh(world, laptop, ["exe.dev", "cp", "vm-none", "vm-x", "--json"]);
  assert.match(JSON.parse(missing.stdout).error, /VM "vm-none" not found/);
});

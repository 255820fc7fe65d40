import assert from "node:assert/strict";
import { ProviderError } from "../lib/errors.ts";
import { ExeDevProvider } from "../lib/providers/exedev.ts";
import type { Ssh } from "../lib/ssh.ts";

type Answer = { code: number; stdout: string; stderr: string; timedOut: boolean };

// A lobby that answers each command as scripted, keeping what it was asked: the JSON shapes are
// exe.dev's (design.md §4).
function scriptedLobby(answers: Record<string, Answer>) {
  const asked: string[] = [];
  const ssh = {
    with: () => ssh,
    run: (_destination: string, argv: readonly string[]) => {
      asked.push(argv[0]);
      const answer = answers[argv[0]];
      if (!answer) throw new Error(`unscripted lobby command ${argv.join(" ")}`);
      return Promise.resolve(answer);
    },
  };
  return { provider: new ExeDevProvider(ssh as unknown as Ssh, "lobby.test"), asked };
}

const answer = (code: number, stdout: string, stderr = ""): Answer => ({
  code,
  stdout,
  stderr,
  timedOut: false,
});
const LISTED = answer(
  0,
  JSON.stringify({
    vms: [{
      vm_name: "ship-web-k3f9abcd",
      ssh_dest: "ship-web-k3f9abcd.exe.xyz",
      status: "running",
    }],
  }),
);

Deno.test("a name the lobby refuses is never taken for the new ship (its VM is another's)", async () => {
  for (const verb of ["new", "cp"]) {
    const { provider, asked } = scriptedLobby({
      [verb]: answer(1, JSON.stringify({ error: 'a VM named "ship-web-k3f9abcd" already exists' })),
      ls: LISTED,
    });
    const making = verb === "new"
      ? provider.create("ship-web-k3f9abcd")
      : provider.copy("ship-web-k3f9aaaa", "ship-web-k3f9abcd");
    await assert.rejects(
      making,
      (error) =>
        error instanceof ProviderError && error.refused &&
        /refused.*already exists/.test(error.message),
    );
    assert.deepEqual(asked, [verb], "a refusal is not followed by a look for the VM");
  }
});

Deno.test("a VM made whose answer was lost is found and used", async () => {
  const { provider, asked } = scriptedLobby({
    new: answer(255, "", "Connection to lobby.test closed by remote host."),
    ls: LISTED,
  });
  const vm = await provider.create("ship-web-k3f9abcd");
  assert.equal(vm.name, "ship-web-k3f9abcd");
  assert.equal(vm.destination, "ship-web-k3f9abcd.exe.xyz");
  assert.deepEqual(asked, ["new", "ls"]);
  // And none found: the call's own failure.
  const none = scriptedLobby({
    new: answer(255, "", "Connection to lobby.test closed by remote host."),
    ls: answer(0, JSON.stringify({ vms: [] })),
  });
  // Not a refusal: the create's undo still looks for the VM and removes it.
  await assert.rejects(
    none.provider.create("ship-web-k3f9abcd"),
    (error) =>
      error instanceof ProviderError && !error.refused &&
      /closed by remote host/.test(error.message),
  );
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { SandboxTransport, type Transport } from "../lib/transport.ts";
import { upload, uploadFiles } from "../lib/fleet/provision.ts";

Deno.test("uploadFiles writes every file, byte for byte, with its mode, in one session", async () => {
  const home = await Deno.makeTempDir({ prefix: "ohc-upload-" });
  try {
    const sandbox = new SandboxTransport(home);
    let sessions = 0;
    const transport: Transport = {
      destination: home,
      run: (remote, options) => (sessions++, sandbox.run(remote, options)),
      interactive: (remote) => sandbox.interactive(remote),
    };
    const binary = new Uint8Array(70_000).map((_, i) => (i * 7) % 256); // every byte value
    await Deno.mkdir(join(home, ".ohcommodore"));
    await Deno.writeTextFile(join(home, ".ohcommodore/.env"), "OLD=1\n");
    await uploadFiles(transport, [
      { path: "~/.ohcommodore/.env", data: "GH_TOKEN='x y'\n", mode: 0o600 },
      { path: "~/deep/er/dir with space/blob", data: binary, mode: 0o640 },
      { path: "~/.ssh/empty", data: "", mode: 0o644 },
      { path: "~/.ohcommodore/init.sh", data: "#!/bin/bash\necho 'tab\there'\n", mode: 0o700 },
    ]);
    assert.equal(sessions, 1, "one session for all four files");
    assert.equal(await Deno.readTextFile(join(home, ".ohcommodore/.env")), "GH_TOKEN='x y'\n");
    assert.deepEqual(await Deno.readFile(join(home, "deep/er/dir with space/blob")), binary);
    assert.equal(await Deno.readTextFile(join(home, ".ssh/empty")), "");
    const script = join(home, ".ohcommodore/init.sh");
    assert.equal(await Deno.readTextFile(script), "#!/bin/bash\necho 'tab\there'\n");
    const modes = await Promise.all(
      [".ohcommodore/.env", "deep/er/dir with space/blob", ".ssh/empty", ".ohcommodore/init.sh"]
        .map(async (path) => (await Deno.stat(join(home, path))).mode! & 0o777),
    );
    assert.deepEqual(modes, [0o600, 0o640, 0o644, 0o700]);
    const parts = [...Deno.readDirSync(join(home, ".ohcommodore"))].filter((e) =>
      e.name.endsWith(".part")
    );
    assert.deepEqual(parts, [], "nothing half written is left");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("uploadFiles refuses a path that would break its framing; upload writes one file", async () => {
  const home = await Deno.makeTempDir({ prefix: "ohc-upload-" });
  try {
    const transport = new SandboxTransport(home);
    for (const path of ["~/a\tb", "~/a\nb", "-rf"]) {
      await assert.rejects(
        uploadFiles(transport, [{ path, data: "x", mode: 0o600 }]),
        /Bad remote path/,
      );
    }
    await upload(transport, { path: "~/single", data: "one", mode: 0o600 });
    assert.equal(await Deno.readTextFile(join(home, "single")), "one");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("uploadFiles decodes with -D where base64 knows no -d (older Macs)", async () => {
  const home = await Deno.makeTempDir({ prefix: "ohc-upload-" });
  try {
    const bin = join(home, "old-mac-bin");
    await Deno.mkdir(bin);
    const real = await Deno.realPath("/usr/bin/base64");
    await Deno.writeTextFile(
      join(bin, "base64"),
      `#!/bin/sh\ncase "$1" in\n  -D) exec '${real}' -d ;;\n` +
        `  -d) echo "base64: invalid option -- d" >&2; exit 64 ;;\nesac\nexec '${real}' "$@"\n`,
      { mode: 0o755 },
    );
    const sandbox = new SandboxTransport(home);
    const transport: Transport = {
      destination: home,
      run: (remote, options) =>
        sandbox.run(["env", `PATH=${bin}:${Deno.env.get("PATH")}`, ...remote], options),
      interactive: (remote) => sandbox.interactive(remote),
    };
    await uploadFiles(transport, [{ path: "~/a/b", data: "on a Mac\n", mode: 0o600 }]);
    assert.equal(await Deno.readTextFile(join(home, "a/b")), "on a Mac\n");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

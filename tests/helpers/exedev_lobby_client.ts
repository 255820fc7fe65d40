/**
 * The lobby user's forced command (`command="..."` in its authorized_keys): forwards
 * `$SSH_ORIGINAL_COMMAND` and the key used (`$SSH_USER_AUTH`, from sshd's ExposeAuthInfo) to the
 * fixture daemon on the unix socket given as the only argument, then prints its answer and exits
 * with its code. No imports: it runs as another user with `deno run --no-config`.
 *
 * @module
 */

const socket = Deno.args[0];
const command = Deno.env.get("SSH_ORIGINAL_COMMAND") ?? "";
let auth = "";
const authFile = Deno.env.get("SSH_USER_AUTH");
if (authFile) {
  try {
    auth = await Deno.readTextFile(authFile);
  } catch {
    // unknown key: `current` is false everywhere
  }
}

async function writeAll(
  sink: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await sink.write(bytes.subarray(offset));
}

let reply: { stdout: string; stderr: string; code: number };
try {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  await writeAll(conn, new TextEncoder().encode(JSON.stringify({ command, auth }) + "\n"));
  reply = JSON.parse(await new Response(conn.readable).text());
} catch (error) {
  reply = { stdout: "", stderr: `exe.dev lobby fixture unreachable: ${error}\n`, code: 2 };
}
const encoder = new TextEncoder();
await writeAll(Deno.stdout, encoder.encode(reply.stdout));
await writeAll(Deno.stderr, encoder.encode(reply.stderr));
Deno.exit(reply.code);

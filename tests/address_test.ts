import assert from "node:assert/strict";
import { parseAddress } from "../lib/address.ts";
import { formatDuration, parseDuration } from "../lib/duration.ts";
import { UsageError } from "../lib/errors.ts";
import { remoteCommand, shellQuote } from "../lib/ssh.ts";

Deno.test("parseAddress accepts names, DNS names and user-prefixed SSH destinations", () => {
  assert.deepEqual(parseAddress("captain@ship-web-a1f3"), {
    role: "captain",
    host: "ship-web-a1f3",
  });
  assert.deepEqual(parseAddress("commodore@flag.exe.xyz"), {
    role: "commodore",
    host: "flag.exe.xyz",
  });
  assert.deepEqual(parseAddress("captain@vm+box@vm.exe.xyz"), {
    role: "captain",
    host: "vm+box@vm.exe.xyz",
  });
});

Deno.test("parseAddress rejects unknown roles, empty hosts and option-like hosts", () => {
  const bad = [
    "ship-web",
    "admiral@x",
    "captain@",
    "@x",
    "captain@-oProxyCommand=x",
    "captain@a b",
    "captain@a;b",
  ];
  for (const text of bad) assert.throws(() => parseAddress(text), UsageError, text);
  assert.throws(() => parseAddress("admiral@x"), /unknown role "admiral"/);
});

Deno.test("parseDuration reads units, compound forms and plain seconds", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("45"), 45_000);
  for (const bad of ["", "0", "-5s", "5 minutes", "1x", "m"]) {
    assert.throws(() => parseDuration(bad), UsageError, bad);
  }
  assert.equal(formatDuration(5_400_000), "1h30m");
  assert.equal(formatDuration(42_000), "42s");
});

Deno.test("remote commands quote every argument for the remote shell but keep ~/ expandable", () => {
  assert.equal(shellQuote("it's $HOME"), `'it'\\''s $HOME'`);
  assert.equal(
    remoteCommand(["~/.local/bin/ohcommodore", "inbox", "a b"]),
    "~/.local/bin/ohcommodore inbox 'a b'",
  );
  assert.equal(shellQuote("plain-arg_1.2"), "plain-arg_1.2");
});

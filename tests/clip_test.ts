import assert from "node:assert/strict";
import { oneLine, quote, QUOTE_MAX } from "../lib/clip.ts";

Deno.test("oneLine keeps the first line and at most max characters, marking what it left out", () => {
  assert.equal(oneLine("make test", 40), "make test");
  assert.equal(oneLine("make test\nmake deploy", 40), "make test…");
  assert.equal(oneLine("abcdef", 4), "abc…");
  assert.equal(oneLine("abcd", 4), "abcd");
  // Characters, not UTF-16 units: an emoji is never cut in two.
  assert.equal(oneLine("😀".repeat(10), 4), "😀😀😀…");
});

Deno.test("quote puts a typed value in double quotes, one line and clipped", () => {
  assert.equal(quote("nobody"), `"nobody"`);
  assert.equal(quote(""), `""`);
  assert.equal(quote(1.5), `"1.5"`);
  assert.equal(quote("x".repeat(10_000)), `"${"x".repeat(QUOTE_MAX - 1)}…"`);
  assert.equal(quote("rm -rf /\necho done"), `"rm -rf /…"`);
  // Control characters stay: the CLI escapes them for the terminal, so a message stays exact.
  assert.equal(quote("\x1b[2J"), `"\x1b[2J"`);
});

import assert from "node:assert/strict";
import { ByteBudget, lineSplitter, readLines } from "../lib/lines.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((chunk) => encoder.encode(chunk)));
}

async function collect(lines: AsyncGenerator<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const line of lines) all.push(line);
  return all;
}

Deno.test("readLines cuts bytes into lines across chunks, a character split in two included", async () => {
  const bytes = new TextEncoder().encode("é\n");
  const split = ReadableStream.from([bytes.subarray(0, 1), bytes.subarray(1)]);
  assert.deepEqual(await collect(readLines(split, 100)), ["é"]);
  assert.deepEqual(await collect(readLines(streamOf("a\nb", "c\n\nd"), 100)), ["a", "bc", ""]);
  assert.deepEqual(
    await collect(readLines(streamOf("a\nb", "c\n\nd"), 100, { keepLast: true })),
    ["a", "bc", "", "d"],
  );
});

Deno.test("readLines refuses a line past its limit, and a budget past its room, and gives it back", async () => {
  await assert.rejects(collect(readLines(streamOf("12345", "678"), 6)), /longer than 6 bytes/);
  await assert.rejects(collect(readLines(streamOf("123456789\n"), 6)), /longer than 6 bytes/);
  const budget = new ByteBudget(6);
  // Takes 4 bytes, then finds no room for 3 more: what it took comes back.
  await assert.rejects(
    collect(readLines(streamOf("1234", "567"), 100, { budget })),
    /no room for more unfinished lines \(6 bytes held\)/,
  );
  assert.equal(budget.held, 0, "a reader that failed gave back what it took");
  // A line past its limit after a take.
  await assert.rejects(collect(readLines(streamOf("1234", "5678"), 6, { budget })), /longer/);
  assert.equal(budget.held, 0);
  // A consumer that stops early, and a stream that breaks.
  const early = readLines(streamOf("a\nbcd", "ef"), 100, { budget });
  assert.equal((await early.next()).value, "a");
  await early.return(undefined);
  assert.equal(budget.held, 0, "a reader left early gave its bytes back");
  const broken = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("half a line"));
      controller.error(new Error("connection reset"));
    },
  });
  await assert.rejects(collect(readLines(broken, 100, { budget })), /connection reset/);
  assert.equal(budget.held, 0, "a stream that broke gave its bytes back");
  await collect(readLines(streamOf("12345", "6\n"), 100, { budget }));
  assert.equal(budget.held, 0, "a finished line gives its bytes back");
});

Deno.test("lineSplitter tells each line once, however the text is cut", () => {
  const seen: string[] = [];
  const lines = lineSplitter((line) => seen.push(line));
  for (const piece of ["one\ntw", "o", "\n", "\nthr", "ee"]) lines.push(piece);
  assert.deepEqual(seen, ["one", "two", ""]);
  lines.end();
  lines.end();
  assert.deepEqual(seen, ["one", "two", "", "three"]);
});

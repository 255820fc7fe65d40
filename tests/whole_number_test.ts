import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { parseWholeNumber } from "../lib/whole_number.ts";

Deno.test("a whole number is read from digits or checked as a number, within its range", () => {
  assert.equal(parseWholeNumber("30", "--max-turns"), 30);
  assert.equal(parseWholeNumber(" 007 ", "--count", { max: 20 }), 7);
  assert.equal(parseWholeNumber(64, "count", { max: 64 }), 64);
  assert.equal(parseWholeNumber("0", "offset", { min: 0 }), 0);
  assert.equal(parseWholeNumber("9007199254740991", "limit"), Number.MAX_SAFE_INTEGER);
});

Deno.test("a whole number past 2^53, out of range or not digits is refused as it was given", () => {
  const cases: [unknown, string][] = [
    [
      "9007199254740993",
      `Invalid limit "9007199254740993": give a whole number from 1 to 9007199254740991`,
    ],
    [
      "99999999999999999999",
      `Invalid limit "99999999999999999999": give a whole number from 1 to 9007199254740991`,
    ],
    [2 ** 53, `Invalid limit "9007199254740992": give a whole number from 1 to 9007199254740991`],
    ["0", `Invalid limit "0": give a whole number from 1 to 9007199254740991`],
    ["1.5", `Invalid limit "1.5": give a whole number from 1 to 9007199254740991`],
    ["1e3", `Invalid limit "1e3": give a whole number from 1 to 9007199254740991`],
    ["-1", `Invalid limit "-1": give a whole number from 1 to 9007199254740991`],
    ["", `Invalid limit "": give a whole number from 1 to 9007199254740991`],
    [NaN, `Invalid limit "NaN": give a whole number from 1 to 9007199254740991`],
    [null, `Invalid limit "null": give a whole number from 1 to 9007199254740991`],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseWholeNumber(value, "limit"), new UsageError(message));
  }
  assert.throws(() => parseWholeNumber("65", "count", { max: 64 }), /from 1 to 64$/);
  // A max past MAX_SAFE_INTEGER is no excuse for a rounded number.
  assert.throws(() => parseWholeNumber("9007199254740993", "n", { max: Infinity }), UsageError);
  const long = "7".repeat(10_000);
  assert.throws(() => parseWholeNumber(long, "n"), (error: Error) => error.message.length < 150);
});

/**
 * Errors live where `lib/errors.ts` says they do: the classes outside it are the ones its module
 * doc names, each registered to come back as itself from data; the library throws no plain
 * `Error`.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function libraryFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (path.endsWith(".ts")) files.set(path, await Deno.readTextFile(new URL(path, ROOT)));
    }
  };
  await walk("lib");
  return files;
}

// Code, not prose: comments and JSDoc examples may name anything.
function codeOf(text: string): string {
  return text.split("\n").filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line)).join("\n");
}

Deno.test("every error class outside errors.ts is one its module doc names, and registers itself", async () => {
  const files = await libraryFiles();
  const errorsDoc = files.get("lib/errors.ts")!.split("@module")[0];
  const unnamed: string[] = [];
  const unregistered: string[] = [];
  for (const [path, text] of files) {
    if (path === "lib/errors.ts") continue;
    for (const [, name, base] of codeOf(text).matchAll(/export class (\w+) extends (\w+)/g)) {
      // Only errors ohcommodore throws to its callers: a plain Error subclass is a module's own
      // signal, caught where it is thrown (the doc says so).
      if (!/Error$/.test(base) || base === "Error") continue;
      if (!errorsDoc.includes(`\`${name}\``)) unnamed.push(`${path}: ${name}`);
      if (!text.includes(`registerErrorClass(${name})`)) unregistered.push(`${path}: ${name}`);
    }
  }
  assert.deepEqual(unnamed, [], "named in lib/errors.ts's module doc");
  assert.deepEqual(unregistered, [], "registered beside the class");
});

Deno.test("the library throws no plain Error: a typed one, or a built-in for a limit", async () => {
  const plain: string[] = [];
  for (const [path, text] of await libraryFiles()) {
    if (/\bnew Error\(/.test(codeOf(text))) plain.push(path);
  }
  assert.deepEqual(plain, []);
});

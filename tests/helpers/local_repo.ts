/**
 * A bare repository with one commit in a directory of the test's own, for the ships of a local
 * fleet to clone and push to.
 */

import assert from "node:assert/strict";
import { join } from "node:path";

/**
 * Makes `<name>.git` in `dir`, with a README committed.
 *
 * @param dir Where it goes (a work tree beside it is made too).
 * @param name The repository's name.
 * @returns Its `file://` URL.
 */
export async function localBareRepo(dir: string, name = "web"): Promise<string> {
  const git = async (...args: string[]) => {
    const { code, stderr } = await new Deno.Command("git", { args, stdout: "null" }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  };
  const repo = join(dir, `${name}.git`);
  const work = join(dir, `${name}-work`);
  await git("init", "--quiet", "--bare", repo);
  await git("clone", "--quiet", repo, work);
  await Deno.writeTextFile(join(work, "README.md"), `${name}\n`);
  await git("-C", work, "add", ".");
  await git("-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first");
  await git("-C", work, "push", "--quiet", "origin", "HEAD");
  return `file://${repo}`;
}

/**
 * Small git repositories for the examples to clone, standing in for ones on GitHub.
 *
 * @module
 */

/**
 * Makes a bare repository with one commit (and, with `failingTest`, a test that fails).
 *
 * @param dir Where to make it.
 * @param name Its name.
 * @param files Files of its first commit; default a README.
 * @returns Its `file://` URL.
 */
export async function makeRepo(
  dir: string,
  name: string,
  files: Record<string, string> = { "README.md": `# ${name}\n` },
): Promise<string> {
  const bare = `${dir}/${name}.git`;
  const work = `${dir}/${name}-work`;
  await git(["init", "--quiet", "--bare", bare]);
  await git(["clone", "--quiet", bare, work]);
  for (const [path, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${work}/${path}`, text, { mode: 0o755 });
  }
  await git(["-C", work, "add", "."]);
  const who = ["-c", "user.name=example", "-c", "user.email=example@example.com"];
  await git(["-C", work, ...who, "commit", "--quiet", "-m", "first"]);
  await git(["-C", work, "push", "--quiet", "origin", "HEAD"]);
  await Deno.remove(work, { recursive: true });
  return `file://${bare}`;
}

async function git(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("git", { args, stdout: "null" }).output();
  if (code !== 0) throw new Error(`git ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

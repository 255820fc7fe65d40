/**
 * An inbox in a home of its own, for tests that use the library without a member's CLI.
 */

import type { Identity } from "../../lib/identity.ts";
import { writeIdentity } from "../../lib/identity.ts";
import { Inbox, withStore } from "../../lib/inbox/inbox.ts";
import type { Message } from "../../lib/inbox/message.ts";
import { tempDir } from "./temp_dir.ts";

/**
 * Makes a home with `identity` (also in its identity.json) and opens its inbox; disposing it
 * removes the home and whatever a delivery started there.
 *
 * @param prefix Starts the home's name, so a leftover says which test made it.
 * @param identity Who the member is.
 * @returns The inbox.
 */
export async function tempInbox(
  prefix: string,
  identity: Identity,
): Promise<Inbox & AsyncDisposable> {
  const home = await tempDir(prefix);
  await writeIdentity(identity, home.path);
  const inbox = await Inbox.open({ home: home.path, identity });
  return Object.assign(inbox, { [Symbol.asyncDispose]: () => home[Symbol.asyncDispose]() });
}

/**
 * Claims the oldest unread message as the scheduler does (marks it running), without one.
 *
 * @param inbox The inbox.
 * @returns The claimed message, or undefined when none is unread.
 */
export function claimOldest(inbox: Inbox): Promise<Message | undefined> {
  return withStore(inbox, async (store) => {
    const [oldest] = await store.unread();
    return oldest && await store.claim(oldest);
  });
}

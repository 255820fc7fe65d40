// The page's calls to its server. The session cookie (HttpOnly, SameSite=Strict) goes with each
// by itself; actions are JSON POSTs, which a page of another site cannot send here.

/**
 * Posts an action and gives its answer.
 *
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<any>} the answer's JSON
 * @throws {Error} with the server's message when the action failed
 */
export async function post(path, body = {}) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return await answer(response);
}

/**
 * Gets JSON from the server.
 *
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function get(path) {
  return await answer(await fetch(path));
}

async function answer(response) {
  const body = await response.json().catch(() => null);
  if (response.ok) return body;
  const error = body?.error;
  const message = typeof error?.message === "string"
    ? error.message + (typeof error.fields?.next === "string" ? `; ${error.fields.next}` : "")
    : `${response.status} ${response.statusText}`;
  throw new Error(message);
}

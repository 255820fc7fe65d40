/**
 * Bytes in hex, and SHA-256 in hex through Web Crypto: node:crypto would cost a program that
 * loads it about 10 ms of its start (the task runner's, before Claude Code starts).
 *
 * @module
 */

/**
 * The SHA-256 of a text (as UTF-8) or of bytes, as 64 lowercase hex characters.
 *
 * @param data What to digest.
 * @returns Its digest in hex.
 */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return hexOf(new Uint8Array(digest));
}

/**
 * Bytes as lowercase hex, two characters a byte.
 *
 * @param bytes The bytes.
 * @returns Their hex.
 */
export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

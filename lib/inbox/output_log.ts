/**
 * A running command's output as it is written, kept for followers that come late: each hears
 * what was kept, then every new piece, in order.
 *
 * @module
 */

import type { OutputChunk } from "./server_protocol.ts";

/** The output of one running command. */
export class OutputLog {
  readonly #capChars: number;
  readonly #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  readonly #kept: OutputChunk[] = [];
  readonly #keptChars = { stdout: 0, stderr: 0 };
  readonly #followers = new Set<(chunk: OutputChunk) => void>();

  /**
   * Creates an empty log.
   *
   * @param capChars How much of each stream to keep for late followers (the tail).
   */
  constructor(capChars: number) {
    this.#capChars = capChars;
  }

  /**
   * Adds a piece of output and passes it on to every follower.
   *
   * @param stream Where it was written.
   * @param bytes What.
   */
  write(stream: "stdout" | "stderr", bytes: Uint8Array): void {
    // One decoder per stream, streaming: a character split between two writes stays whole.
    const text = this.#decoders[stream].decode(bytes, { stream: true });
    if (text === "") return;
    const chunk = { stream, text };
    this.#kept.push(chunk);
    this.#keptChars[stream] += text.length;
    this.#trim(stream);
    for (const follower of this.#followers) follower(chunk);
  }

  /**
   * Gives a follower what was kept, then every new piece until it stops following.
   *
   * @param follower Told each piece.
   * @returns Stops following.
   */
  follow(follower: (chunk: OutputChunk) => void): () => void {
    for (const chunk of this.#kept) follower(chunk);
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  // Drops the oldest pieces of a stream beyond the cap (whole pieces: a follower that comes
  // late sees a little more than the cap rather than a cut line).
  #trim(stream: "stdout" | "stderr"): void {
    while (this.#keptChars[stream] > this.#capChars) {
      const index = this.#kept.findIndex((chunk) => chunk.stream === stream);
      const length = this.#kept[index].text.length;
      if (this.#keptChars[stream] - length < this.#capChars) return;
      this.#kept.splice(index, 1);
      this.#keptChars[stream] -= length;
    }
  }
}

/**
 * The ssh client every call goes through ({@link Ssh}: options as arrays, BatchMode,
 * ConnectTimeout, shared connections, a timeout on every call), and the {@link Transport} to one
 * member that runs a program there or opens a session.
 *
 * @example Send a command with ssh settings of your own
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 * import { Ssh } from "@smithclay/ohcommodore/ssh";
 *
 * const ssh = new Ssh({ connectTimeoutSec: 30, configFile: "./ssh_config" });
 * const message = await send("captain@ship-web-k3f9a1b2", "uptime", { ssh, wait: true });
 * console.log(message.status);
 * ```
 *
 * @module
 */

export { type InteractiveOptions, type Transport, transportFor } from "./lib/transport.ts";
export {
  type RetryPolicy,
  type RunOptions,
  Ssh,
  type SshResult,
  type SshSettings,
} from "./lib/ssh.ts";

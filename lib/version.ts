/**
 * The version of this program, from deno.json.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/**
 * The version of this program.
 *
 * @example Check the version
 * ```ts
 * import { VERSION } from "@smithclay/ohcommodore";
 *
 * console.log(`ohcommodore ${VERSION}`);
 * ```
 */
export const VERSION: string = denoJson.version;

/**
 * The version of this program, from deno.json.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The version of this program. */
export const VERSION: string = denoJson.version;

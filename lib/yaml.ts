/**
 * The YAML parser's npm package, the one place its version is written (see `deps.ts` for why the
 * full `npm:` specifier). A module of its own because loading it costs every program start about
 * 20 ms here: only reading a plan file imports it.
 *
 * @module
 */

export { parseDocument } from "npm:yaml@2.9.1";

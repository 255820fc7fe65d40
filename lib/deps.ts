/**
 * The npm packages the library uses, each written once with its exact version.
 *
 * Full `npm:` specifiers instead of bare names from deno.json's `imports`: an import map applies
 * only inside this repository, so a project that imports `mod.ts` by path, URL or from JSR could
 * not resolve a bare `"p-limit"`. DuckDB ({@link ./duckdb.ts}) and YAML ({@link ./yaml.ts}) have
 * modules of their own because they are loaded only where they are used.
 *
 * @module
 */

export { default as pLimit } from "npm:p-limit@7.3.3";
export { default as pRetry } from "npm:p-retry@9.0.0";

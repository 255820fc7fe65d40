/**
 * The dashboard page's files, served by the program itself (no CDN: a laptop or a VM may be
 * offline). Each is imported as text, so it is part of the module graph: `deno run` reads it
 * from the checkout (the libraries from node_modules, as every npm package here), and
 * `deno compile` embeds it in the binary with the code, without an `--include`.
 *
 * The page's modules import Preact and htm by their `npm:` specifiers, so that `deno check`
 * resolves them as it does every other import; the server gives the browser those imports as
 * the paths it serves them at (see {@link PAGE_ASSETS}).
 *
 * @module
 */

import { OhcommodoreError } from "../../errors.ts";
// Full specifiers, as everywhere here (see ../../deps.ts): an import map would not reach those
// who import this package.
// deno-lint-ignore no-import-prefix
import preact from "npm:preact@11.2.0" with { type: "text" };
// deno-lint-ignore no-import-prefix
import htm from "npm:htm@3.1.1" with { type: "text" };
import index from "./index.html" with { type: "text" };
import style from "./style.css" with { type: "text" };
import ui from "./ui.js" with { type: "text" };
import api from "./api.js" with { type: "text" };
import app from "./app.js" with { type: "text" };
import fleetPanel from "./fleet_panel.js" with { type: "text" };
import plansPanel from "./plans_panel.js" with { type: "text" };
import inboxPanel from "./inbox_panel.js" with { type: "text" };
import costsPanel from "./costs_panel.js" with { type: "text" };
import transcript from "./transcript.js" with { type: "text" };

/** One file of the page: its bytes and content type. */
export interface PageAsset {
  /** The `Content-Type` it is served with. */
  type: string;
  /** Its text. */
  body: string;
}

const JS = "text/javascript; charset=utf-8";

// The libraries' npm specifiers as the page's modules write them, and where the browser gets
// them instead. A specifier the page no longer writes fails here, at once, not in a browser.
const LIBRARIES: Record<string, string> = {
  "npm:preact@11.2.0": "./preact.mjs",
  "npm:htm@3.1.1": "./htm.mjs",
};

function forBrowser(source: string): string {
  let text = source;
  for (const [specifier, path] of Object.entries(LIBRARIES)) {
    const quoted = JSON.stringify(specifier);
    if (!text.includes(quoted)) {
      // A mistake of ours in the page's code, found at the first request: said as such.
      throw new OhcommodoreError(
        `The page's ui.js no longer imports ${quoted}: update page/assets.ts`,
      );
    }
    text = text.replaceAll(quoted, JSON.stringify(path));
  }
  return text;
}

/** The page's files by the path they are served at. */
export const PAGE_ASSETS: ReadonlyMap<string, PageAsset> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: index }],
  ["/assets/style.css", { type: "text/css; charset=utf-8", body: style }],
  ["/assets/ui.js", { type: JS, body: forBrowser(ui) }],
  ["/assets/api.js", { type: JS, body: api }],
  ["/assets/app.js", { type: JS, body: app }],
  ["/assets/fleet_panel.js", { type: JS, body: fleetPanel }],
  ["/assets/plans_panel.js", { type: JS, body: plansPanel }],
  ["/assets/inbox_panel.js", { type: JS, body: inboxPanel }],
  ["/assets/costs_panel.js", { type: JS, body: costsPanel }],
  ["/assets/transcript.js", { type: JS, body: transcript }],
  // Their source maps are not served: the comment would only make a console ask for them.
  ["/assets/preact.mjs", { type: JS, body: withoutSourceMap(preact) }],
  ["/assets/htm.mjs", { type: JS, body: withoutSourceMap(htm) }],
]);

function withoutSourceMap(text: string): string {
  return text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
}

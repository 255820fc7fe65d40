/**
 * The dashboard's server: the page, its API and its live events, from one {@link FleetView}
 * however many pages are open.
 *
 * Safe by default:
 * - it listens on 127.0.0.1 unless told another address, and then answers only requests whose
 *   `Host` names where it listens (a page of another site that rebinds its name to this
 *   machine is refused);
 * - every request, the page and its files included, needs the token: in the URL once (the
 *   answer sets it as an HttpOnly, SameSite=Strict cookie and sends the browser on to the same
 *   page without it), then the cookie, or `Authorization: Bearer <token>` from a script;
 *   anything else gets 401;
 * - actions are JSON POSTs whose `Origin` and `Sec-Fetch-Site`, when the browser sends them,
 *   say this page: another site's page cannot act through a person's browser;
 * - the page's Content-Security-Policy allows its own scripts and styles only (no inline script,
 *   no eval, no other origin), and everything a ship produced reaches the page as JSON that the
 *   page renders as text;
 * - nothing secret is in what it serves: the fleet's state, messages and transcripts only.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { UsageError } from "../errors.ts";
import { errorToData } from "../error_data.ts";
import type { Fleet } from "../fleet/fleet.ts";
import { parseMessageId } from "../inbox/message.ts";
import { act } from "./dashboard_actions.ts";
import { failure, json, plain, SECURITY_HEADERS, unauthorized } from "./dashboard_responses.ts";
import { FleetView, type FleetViewOptions } from "./fleet_view.ts";
import { PAGE_ASSETS } from "./page/assets.ts";
import { EventStreams } from "./event_streams.ts";

/** Options for {@link Dashboard.start}. */
export interface DashboardOptions extends FleetViewOptions {
  /**
   * The address to listen on. Anything but loopback lets other machines reach the page (the
   * token still guards it).
   *
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * The port; 0 takes a free one.
   *
   * @default {0}
   */
  port?: number;
}

const COOKIE_PREFIX = "ohcommodore-dashboard-";

/**
 * The dashboard's server; see the module doc.
 *
 * @example Serve the fleet's dashboard until the process ends
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { Dashboard } from "./dashboard.ts";
 *
 * await using fleet = await Fleet.open();
 * await using dashboard = await Dashboard.start(fleet, { port: 8420 });
 * console.log(dashboard.url); // http://127.0.0.1:8420/?token=…
 * await dashboard.finished;
 * ```
 */
export class Dashboard implements AsyncDisposable {
  /** The page's address with its token: what a person opens. */
  readonly url: string;
  /** The origin the page is served from, e.g. `http://127.0.0.1:8420`. */
  readonly origin: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  readonly #fleet: Fleet;
  readonly #view: FleetView;
  readonly #token: string;
  readonly #cookie: string;
  readonly #hosts: Set<string> | null;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #streams: EventStreams;
  readonly #stopUpdates: () => void;
  #stopped: Promise<void> | undefined;

  private constructor(
    fleet: Fleet,
    view: FleetView,
    options: { host: string; port: number; token: string },
  ) {
    this.#fleet = fleet;
    this.#view = view;
    this.#token = options.token;
    this.#streams = new EventStreams();
    this.#server = Deno.serve({
      hostname: options.host,
      port: options.port,
      onListen: () => {},
      onError: (error) => json(500, { error: errorToData(error) }),
    }, (request) => this.#handle(request));
    const port = this.#server.addr.port;
    const shownHost = urlHost(options.host);
    this.origin = `http://${shownHost}:${port}`;
    this.url = `${this.origin}/?token=${this.#token}`;
    this.#cookie = `${COOKIE_PREFIX}${port}`;
    // On loopback, only the names of loopback: a rebinding site's name is not one of them.
    this.#hosts = isLoopback(options.host)
      ? new Set([shownHost, "127.0.0.1", "localhost", "[::1]"].map((name) => `${name}:${port}`))
      : null;
    this.finished = this.#server.finished;
    // One serialisation per event, whatever the number of pages.
    let last = "";
    this.#stopUpdates = view.subscribe((event) => {
      if (event.type === "snapshot") {
        const { at: _, ...rest } = event.snapshot;
        const same = JSON.stringify(rest);
        if (same === last) return;
        last = same;
      }
      this.#streams.broadcast(JSON.stringify(event));
    });
  }

  /**
   * Opens a view of the fleet and serves the dashboard.
   *
   * @param fleet The fleet.
   * @param options Where to listen, and how often to read the fleet.
   * @returns The running dashboard; dispose it to stop.
   */
  static async start(fleet: Fleet, options: DashboardOptions = {}): Promise<Dashboard> {
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 0;
    const view = await FleetView.open(fleet, options);
    try {
      return new Dashboard(fleet, view, { host, port, token: newToken() });
    } catch (error) {
      await view[Symbol.asyncDispose]();
      if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
        throw new UsageError(`Cannot listen on ${urlHost(host)}:${port}: ${error.message}`, {
          cause: error,
          next: error instanceof Deno.errors.AddrInUse
            ? `choose another --port, or leave it out for a free one`
            : `give --host an address of this machine`,
        });
      }
      throw error;
    }
  }

  /** True when it listens on loopback only. */
  get loopback(): boolean {
    return this.#hosts !== null;
  }

  /** Stops serving: open pages are told the stream ended, the view stops reading the fleet. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopUpdates();
      this.#streams.closeAll();
      await this.#server.shutdown();
      await this.#view[Symbol.asyncDispose]();
    })();
    await this.#stopped;
  }

  async #handle(request: Request): Promise<Response> {
    const response = await this.#answer(request).catch((error) => failure(error));
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      response.headers.set(name, value);
    }
    return response;
  }

  async #answer(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const host = request.headers.get("host") ?? "";
    if (this.#hosts && !this.#hosts.has(host.toLowerCase())) {
      return plain(403, `This dashboard answers at ${this.origin} only`);
    }
    const given = url.searchParams.get("token");
    if (given !== null) {
      if (!this.#isToken(given)) return unauthorized();
      // The first load: the token becomes a cookie, and leaves the address bar and history.
      if (request.method === "GET" && url.pathname === "/") {
        return new Response(null, {
          status: 303,
          headers: {
            location: "/",
            "set-cookie": `${this.#cookie}=${this.#token}; HttpOnly; SameSite=Strict; Path=/`,
          },
        });
      }
    } else if (!this.#isToken(this.#presented(request))) {
      return unauthorized();
    }
    if (request.method === "POST") return await act(request, url, this.#fleet, this.#view);
    if (request.method !== "GET") return plain(405, "Use GET, or POST for an action");
    return await this.#read(request, url);
  }

  // The token a request carries: its cookie, or a script's Authorization header.
  #presented(request: Request): string {
    const bearer = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "");
    if (bearer) return bearer[1];
    for (const part of (request.headers.get("cookie") ?? "").split(";")) {
      const [name, ...value] = part.trim().split("=");
      if (name === this.#cookie) return value.join("=");
    }
    return "";
  }

  #isToken(given: string): boolean {
    const a = new TextEncoder().encode(given);
    const b = new TextEncoder().encode(this.#token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async #read(request: Request, url: URL): Promise<Response> {
    const asset = PAGE_ASSETS.get(url.pathname);
    if (asset) return new Response(asset.body, { headers: { "content-type": asset.type } });
    const path = url.pathname;
    if (path === "/api/snapshot") return json(200, this.#view.snapshot());
    if (path === "/api/events") {
      return this.#streams.open(
        request.signal,
        (send) => {
          send(JSON.stringify({ type: "snapshot", snapshot: this.#view.snapshot() }));
        },
        undefined,
        { broadcast: true },
      );
    }
    const follow = /^\/api\/tasks\/([^/]+)\/follow$/.exec(path);
    if (follow) return this.#follow(request, decodeURIComponent(follow[1]));
    const messages = /^\/api\/members\/([^/]+)\/messages$/.exec(path);
    if (messages) {
      const ship = await this.#fleet.ship(decodeURIComponent(messages[1]));
      return json(200, await ship.inbox.list({ limit: 20 }));
    }
    return plain(404, `Nothing at ${path}`);
  }

  // A task's transcript as events: a "line" each, then its "outcome" (or a "failure").
  #follow(request: Request, id: string): Response {
    parseMessageId(id, "task");
    const stop = new AbortController();
    return this.#streams.open(request.signal, (send, end) => {
      this.#view.follow(
        id,
        (line) => send(JSON.stringify({ text: line, at: Date.now() }), "line"),
        AbortSignal.any([stop.signal, request.signal]),
      ).then(
        (outcome) => send(JSON.stringify(outcome), "outcome"),
        (error) => send(JSON.stringify(errorToData(error)), "failure"),
      ).finally(end);
    }, () => stop.abort());
  }
}

/**
 * Whether an address to listen on is this machine's loopback (127.0.0.0/8, ::1, localhost).
 *
 * @param host The address.
 * @returns True for loopback.
 */
export function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || ["localhost", "::1", "[::1]"].includes(host);
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

function urlHost(host: string): string {
  // Every address of this machine: its name is what another machine would open.
  if (host === "0.0.0.0" || host === "::") return Deno.hostname();
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

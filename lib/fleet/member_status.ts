/**
 * One member's own account of itself (`ohcommodore _status`), and asking a member for it. The
 * running scheduler keeps a copy beside its database; reading that costs a `cat`, where starting
 * the program costs a runtime and DuckDB, which is what `fleet status` over many ships adds up.
 *
 * @module
 */

import { relative } from "node:path";
import type { Transport } from "../transport.ts";
import type { Ssh } from "../ssh.ts";
import { askMember } from "../inbox/ask_member.ts";
import { RemoteCommandError } from "../errors.ts";
import { identityAddress } from "../identity.ts";
import { Inbox } from "../inbox/inbox.ts";
import { type MemberReport, parseReport, readReportFile, reportPathOf } from "../inbox/report.ts";
import { schedulerPidPathOf } from "../inbox/scheduler_files.ts";
import { schedulerState } from "../inbox/scheduler_service.ts";
import { memberPaths, REMOTE_PROGRAM } from "../paths.ts";
import { lastLine } from "../process.ts";
import { VERSION } from "../version.ts";

export type { MemberReport } from "../inbox/report.ts";

/**
 * This member's report: its running scheduler's copy, else made from its database.
 *
 * @param home Its home directory; defaults to `$HOME`.
 * @returns The report.
 */
export async function memberReport(home?: string): Promise<MemberReport> {
  const inbox = await Inbox.open({ home });
  const address = identityAddress(inbox.identity);
  const state = await schedulerState(inbox);
  if (state.running) {
    const kept = await readReportFile(inbox.database);
    if (kept?.address === address) return kept;
  }
  const counts = await inbox.counts();
  return { address, version: VERSION, schedulerRunning: state.running, counts };
}

// Prints the scheduler's report only while the process named in its pid file is alive and is
// a scheduler; otherwise exits 3 and the program is asked instead. $1 and $2 are the pid file
// and the report, relative to $HOME.
const REPORT_SCRIPT = 'pid=$(cat "$HOME/$1" 2>/dev/null) || exit 3; ' +
  'case $pid in ""|*[!0-9]*) exit 3 ;; esac; ' +
  'kill -0 "$pid" 2>/dev/null && grep -qa _scheduler "/proc/$pid/cmdline" || exit 3; ' +
  'exec cat "$HOME/$2"';

const HOME_LAYOUT = memberPaths("/home");
const MAX_REPORT_CHARS = 1024 * 1024;
const REPORT_ARGS = [
  relative(HOME_LAYOUT.home, schedulerPidPathOf(HOME_LAYOUT.database)),
  relative(HOME_LAYOUT.home, reportPathOf(HOME_LAYOUT.database)),
];

/**
 * Asks a member for its report: the running scheduler's copy when there is one, else the
 * program (`ohcommodore _status`), which also answers when the scheduler is down.
 *
 * @param transport The member.
 * @param options `vm`, its name, to check the copy is this member's; `timeoutMs`, per request;
 *   `ssh`, to ask its running scheduler on the shared connection's forward first.
 * @returns The report.
 */
export async function fetchReport(
  transport: Transport,
  options: { vm?: string; timeoutMs?: number; ssh?: Ssh } = {},
): Promise<MemberReport> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  // Its running scheduler answers on the forward with counts of this moment.
  if (options.ssh && options.vm) {
    const member = { destination: transport.destination, address: `captain@${options.vm}` };
    const limits = { timeoutMs, maxReplyBytes: MAX_REPORT_CHARS };
    const asked = await askMember(member, options.ssh, "report", {}, limits)
      .catch(() => undefined);
    const report = asked && parseReport(JSON.stringify(asked.value));
    if (report && report.address.endsWith(`@${options.vm}`)) return report;
  }
  // A report is a few hundred bytes; a member that answers with more is not believed.
  const maxOutput = MAX_REPORT_CHARS;
  const kept = await transport.run(["sh", "-c", REPORT_SCRIPT, "sh", ...REPORT_ARGS], {
    timeoutMs,
    maxOutput,
  });
  if (kept.code === 0) {
    const report = parseReport(kept.stdout);
    if (report && (!options.vm || report.address.endsWith(`@${options.vm}`))) return report;
  }
  const result = await transport.run([REMOTE_PROGRAM, "_status"], { timeoutMs, maxOutput });
  const report = parseReport(result.stdout);
  if (report) return report;
  const tail = lastLine(result.stderr);
  throw new RemoteCommandError(
    transport.destination,
    result.code,
    tail,
    `${transport.destination} gave no status (exit ${result.code}): ${tail}`,
    { next: `look at it with "ohcommodore ship ssh ${options.vm ?? transport.destination}"` },
  );
}

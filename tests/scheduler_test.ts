import assert from "node:assert/strict";
import { tempInbox as tempInboxIn } from "./helpers/temp_inbox.ts";
import { dirname, join } from "node:path";
import { DiskFullError } from "../lib/errors.ts";
import { Inbox } from "../lib/inbox/inbox.ts";
import { isFinished, MESSAGE_STATUSES, type MessageStatus } from "../lib/inbox/message.ts";
import { readReportFile, ReportWriter, writeReportFile } from "../lib/inbox/report.ts";
import { writeIdentity } from "../lib/identity.ts";
import { memberReport } from "../lib/fleet/member_status.ts";
import { Scheduler, type SchedulerEvent } from "../lib/inbox/scheduler.ts";
import { schedulerPidPathOf } from "../lib/inbox/scheduler_files.ts";
import { schedulerLogOf, startSchedulerService } from "../lib/inbox/scheduler_service.ts";
import { ServerConnection } from "../lib/inbox/server_connection.ts";
import { socketPathOf } from "../lib/inbox/socket_path.ts";
import { VERSION } from "../lib/version.ts";
import { eventually, LocalMember } from "./helpers/local_member.ts";
import { mountSmallDisk, smallDiskUnavailable } from "./helpers/small_disk.ts";
import { tempDir } from "./helpers/temp_dir.ts";

/** An inbox in a home of its own; disposing it removes the home. */
function tempInbox(workdir?: string): Promise<Inbox & AsyncDisposable> {
  return tempInboxIn("ohc-sched-", { role: "captain", name: "s", ...(workdir ? { workdir } : {}) });
}

async function withScheduler(
  inbox: Inbox,
  work: () => Promise<void>,
  options: { outputCapBytes?: number; killGraceMs?: number } = {},
) {
  const scheduler = await Scheduler.start(inbox, options);
  try {
    await work();
  } finally {
    scheduler.stop();
    await scheduler.finished;
  }
}

/** Delivers a command and waits for it to finish. */
async function ran(inbox: Inbox, command: string) {
  const message = await inbox.deliver({ recipient: inbox.address, command });
  return await inbox.waitFor(message.id, { timeoutMs: 20_000 });
}

function statusOf(inbox: Inbox, id: string, wanted: string) {
  return async () => (await inbox.get(id)).status === wanted || undefined;
}

/**
 * Does `work` while a command that waits for a file runs (one runs at a time: what is delivered
 * meanwhile waits), then lets that command end and waits for it.
 */
async function whileBlocked(inbox: Inbox, work: () => Promise<void>): Promise<void> {
  const marker = join(inbox.home, "go");
  const blocker = await inbox.deliver({
    recipient: inbox.address,
    command: `while [ ! -e '${marker}' ]; do sleep 0.05; done`,
  });
  try {
    await eventually(statusOf(inbox, blocker.id, "running"), 20_000, "the blocker to run");
    await work();
  } finally {
    await Deno.writeTextFile(marker, ""); // lets the blocker end, even when a check failed
  }
  await inbox.waitFor(blocker.id, { timeoutMs: 20_000 });
}

Deno.test("the scheduler runs a delivered command in the workdir and stores its outcome", async () => {
  await using workdirTemp = await tempDir("ohc-sched-workdir-");
  const workdir = workdirTemp.path;
  await using inbox = await tempInbox(workdir);
  await withScheduler(inbox, async () => {
    const ok = await inbox.deliver({
      recipient: inbox.address,
      command: "pwd; echo err >&2",
      sender: "local@l",
    });
    const failed = await inbox.deliver({
      recipient: inbox.address,
      command: "echo partial; exit 7",
    });
    const done = await inbox.waitFor(ok.id, { timeoutMs: 20_000 });
    assert.equal(done.status, "done");
    assert.equal(done.exitCode, 0);
    assert.equal(done.result, `${await Deno.realPath(workdir)}\n`);
    assert.equal(done.stderr, "err\n");
    assert.ok(done.startedAt && done.finishedAt && done.finishedAt >= done.startedAt);
    const error = await inbox.waitFor(failed.id, { timeoutMs: 20_000 });
    assert.equal(error.status, "error");
    assert.equal(error.exitCode, 7);
    assert.equal(error.error, "exit code 7");
    assert.equal(error.result, "partial\n");
  });
});

Deno.test("a command that outlives its timeout has its whole process group killed", async () => {
  await using inbox = await tempInbox();
  const pidFile = join(inbox.home, "bg.pid");
  await withScheduler(inbox, async () => {
    const message = await inbox.deliver({
      recipient: inbox.address,
      command: `sleep 300 & echo $! > ${pidFile}; sleep 300`,
      timeoutMs: 1000,
    });
    const finished = await inbox.waitFor(message.id, { timeoutMs: 30_000 });
    assert.equal(finished.status, "error");
    assert.equal(finished.exitCode, 124);
    assert.match(finished.error ?? "", /timed out after 1s; its process group was killed/);
    const pid = Number(await Deno.readTextFile(pidFile));
    await eventually(
      async () => {
        const alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
        return alive ? undefined : true;
      },
      5000,
      `background process ${pid} to die`,
    );
  }, { killGraceMs: 500 });
});

Deno.test("output beyond the cap keeps the tail and says how much was dropped", async () => {
  await using inbox = await tempInbox();
  await withScheduler(inbox, async () => {
    const message = await inbox.deliver({ recipient: inbox.address, command: "seq 1 20000" });
    const finished = await inbox.waitFor(message.id, { timeoutMs: 20_000 });
    const text = finished.result ?? "";
    assert.match(text, /^\[ohcommodore: \d+ earlier bytes dropped; output is capped at 1024 bytes/);
    assert.ok(text.endsWith("19999\n20000\n"));
    assert.ok(!text.includes("\n1\n2\n3\n"));
  }, { outputCapBytes: 1024 });
});

Deno.test("counts asked right after a change count it, though a scheduler keeps them between changes", async () => {
  await using inbox = await tempInbox();
  // What the database holds, asked as a person's query (which is never kept).
  const held = async () => {
    const sql = "SELECT status, count(*) FROM inbox GROUP BY status";
    const counts = Object.fromEntries(MESSAGE_STATUSES.map((status) => [status, 0]));
    for (const [status, count] of (await inbox.query(sql)).rows) {
      counts[String(status)] = Number(count);
    }
    return counts;
  };
  const same = async (what: string) => {
    const [told, again] = [await inbox.counts(), await inbox.counts()];
    assert.deepEqual(told, await held(), what);
    assert.deepEqual(again, told, what);
  };
  await withScheduler(inbox, async () => {
    await same("at the start");
    await whileBlocked(inbox, async () => {
      await same("with the blocker running");
      // What comes now waits its turn, and each change is asked about at once.
      const queued = await inbox.deliver({ recipient: inbox.address, command: "true" });
      await same("after a delivery");
      await inbox.markRead(queued.id);
      await same("after a mark");
      await inbox.delete(queued.id);
      await same("after a delete");
    });
    await same("after a finish");
  });
});

Deno.test("a report writer counts once after each change, however often asked, and again after a failure", async () => {
  await using dir = await tempDir("ohc-report-");
  const none = Object.fromEntries(MESSAGE_STATUSES.map((status) => [status, 0])) as Record<
    MessageStatus,
    number
  >;
  let counted = 0;
  let failing = false;
  const writer = new ReportWriter(
    { database: join(dir.path, "data.duckdb"), address: "captain@s" },
    () => {
      counted++;
      return failing ? Promise.reject(new Error("busy")) : Promise.resolve(none);
    },
    () => {},
  );
  try {
    await Promise.all([writer.counts(), writer.counts()]);
    await writer.counts();
    assert.equal(counted, 1);
    writer.soon(); // a change
    await writer.counts();
    await writer.counts();
    assert.equal(counted, 2);
    writer.soon();
    failing = true;
    await assert.rejects(writer.counts(), /busy/);
    failing = false;
    assert.deepEqual(await writer.counts(), none);
    assert.equal(counted, 4);
  } finally {
    await writer.close();
  }
});

Deno.test("the running scheduler keeps its report up to date, and removes it when it stops", async () => {
  await using inbox = await tempInbox();
  const countsOf = async () => (await readReportFile(inbox.database))?.counts;
  await withScheduler(inbox, async () => {
    const initial = await readReportFile(inbox.database);
    assert.equal(initial?.address, "captain@s");
    assert.equal(initial?.version, VERSION);
    assert.equal(initial?.schedulerRunning, true);
    assert.equal(initial?.counts.unread, 0);
    await whileBlocked(inbox, async () => {
      // Delivered while a command runs: the report counts it without waiting for that command.
      const queued = await inbox.deliver({ recipient: inbox.address, command: "true" });
      const reported = await eventually(
        async () => {
          const counts = await countsOf();
          return counts?.unread === 1 && counts.running === 1 ? counts : undefined;
        },
        10_000,
        "the report to count the queued message",
      );
      assert.deepEqual(reported, await inbox.counts());
      await inbox.markRead(queued.id); // a change made by hand, not by the scheduler
      await eventually(
        async () => (await countsOf())?.pending === 1 || undefined,
        10_000,
        "the report to see the message marked read",
      );
    });
    await eventually(
      async () => (await countsOf())?.done === 1 || undefined,
      10_000,
      "the report to count the finished command",
    );
    assert.deepEqual(await countsOf(), await inbox.counts());
  });
  assert.equal(await readReportFile(inbox.database), null);
});

Deno.test("a member's own report is its running scheduler's copy, else read from the database", async () => {
  await using temp = await tempDir("ohc-sched-");
  const home = temp.path;
  const identity = { role: "captain" as const, name: "s" };
  await writeIdentity(identity, home);
  const inbox = await Inbox.open({ home });
  const message = await inbox.deliver({ recipient: inbox.address, command: "true" });
  await withScheduler(inbox, () => inbox.waitFor(message.id, { timeoutMs: 20_000 }).then(() => {}));
  // A fresh scheduler with nothing to run writes its report once, as it starts.
  await withScheduler(inbox, async () => {
    const kept = await readReportFile(inbox.database);
    assert.equal(kept?.counts.done, 1);
    // A copy that differs from the database shows which one was read.
    const copy = { ...kept!, version: "9.9.9" };
    await writeReportFile(inbox.database, copy);
    assert.deepEqual(await memberReport(home), copy);
  });
  const report = await memberReport(home);
  assert.equal(report.version, VERSION);
  assert.equal(report.schedulerRunning, false);
  assert.equal(report.counts.done, 1);
});

Deno.test("only one scheduler runs per database", async () => {
  await using inbox = await tempInbox();
  await withScheduler(inbox, async () => {
    await assert.rejects(Scheduler.start(inbox), /Another scheduler is already running/);
  });
});

Deno.test("the pid file names the scheduler as soon as it answers, and goes when it stops", async () => {
  await using inbox = await tempInbox();
  const pidFile = schedulerPidPathOf(inbox.database);
  await withScheduler(inbox, async () => {
    // The library writes it (not only the CLI): whoever reaches the server finds this pid.
    using server = await ServerConnection.connect(socketPathOf(inbox.database), inbox.address);
    assert.ok(server, "the server answers");
    assert.equal((await server.call("hello", {})).pid, Deno.pid);
    assert.equal((await Deno.readTextFile(pidFile)).trim(), String(Deno.pid));
  });
  await assert.rejects(Deno.stat(pidFile), Deno.errors.NotFound);
});

Deno.test("after kill -9 mid-command the restarted scheduler marks that message error and runs the rest", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "crashy" });
  const inbox = await Inbox.open({ home: member.home });
  const first = member.spawnScheduler();
  const long = await inbox.deliver({ recipient: inbox.address, command: "sleep 30" });
  const queued = await inbox.deliver({ recipient: inbox.address, command: "echo after-restart" });
  await eventually(statusOf(inbox, long.id, "running"), 20_000, "the long command to run");
  // Killed once its process group is recorded (just after the command starts), as a crash
  // mid-command would find it.
  await eventually(
    async () =>
      (await inbox.query("SELECT id FROM inbox WHERE pgid IS NOT NULL")).rows
        .some(([id]) => id === long.id) || undefined,
    20_000,
    "the command's process group to be recorded",
  );
  first.kill("SIGKILL");
  await first.status;
  assert.equal((await inbox.get(queued.id)).status, "unread");
  member.spawnScheduler();
  const recovered = await eventually(
    async () => {
      const message = await inbox.get(long.id);
      return message.status === "error" ? message : undefined;
    },
    20_000,
    "recovery",
  );
  // The row says which group was left running (the crash did not stop the command's session).
  assert.match(
    recovered.error ?? "",
    /^scheduler stopped while running; its commands may still run as process group (\d+) \(kill -- -\1 stops them\)$/,
  );
  const ran = await inbox.waitFor(queued.id, { timeoutMs: 20_000 });
  assert.equal(ran.result, "after-restart\n");
  assert.equal((await inbox.get(long.id)).status, "error", "never re-run");
});

Deno.test("SIGTERM lets the running command finish and starts nothing new", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "termy" });
  const inbox = await Inbox.open({ home: member.home });
  const scheduler = member.spawnScheduler();
  const running = await inbox.deliver({
    recipient: inbox.address,
    command: "sleep 1; echo finished",
  });
  await eventually(statusOf(inbox, running.id, "running"), 20_000, "the command to run");
  const queued = await inbox.deliver({ recipient: inbox.address, command: "echo should-not-run" });
  scheduler.kill("SIGTERM");
  const status = await scheduler.status;
  assert.equal(status.code, 0);
  const finished = await inbox.get(running.id);
  assert.equal(finished.status, "done");
  assert.equal(finished.result, "finished\n");
  assert.equal((await inbox.get(queued.id)).status, "unread");
});

Deno.test("commands get the credentials from a private ~/.ohcommodore/.env, not a readable one", async () => {
  await using inbox = await tempInbox();
  const envFile = join(inbox.home, ".ohcommodore", ".env");
  await Deno.mkdir(join(inbox.home, ".ohcommodore"), { recursive: true });
  await Deno.writeTextFile(envFile, "CLAUDE_CODE_OAUTH_TOKEN='tok-123'\nOTHER='x'\n", {
    mode: 0o600,
  });
  const command = 'echo "${CLAUDE_CODE_OAUTH_TOKEN:-none} ${OTHER:-none}"';
  await withScheduler(inbox, async () => {
    const message = await inbox.deliver({ recipient: inbox.address, command });
    assert.equal((await inbox.waitFor(message.id, { timeoutMs: 20_000 })).result, "tok-123 none\n");
  });
  await Deno.chmod(envFile, 0o644);
  await withScheduler(inbox, async () => {
    const message = await inbox.deliver({ recipient: inbox.address, command });
    assert.equal((await inbox.waitFor(message.id, { timeoutMs: 20_000 })).result, "none none\n");
  });
});

Deno.test("a listener that throws (its log on a full disk) does not stop the scheduler", async () => {
  await using inbox = await tempInbox();
  const onEvent = () => {
    throw new Error("No space left on device (os error 28)");
  };
  const scheduler = await Scheduler.start(inbox, { onEvent });
  try {
    assert.equal((await ran(inbox, "echo logged")).result, "logged\n");
  } finally {
    scheduler.stop();
    await scheduler.finished;
  }
});

// The member's ~/.local/ship on a real small disk (a tmpfs), as a VM's full disk would be.
const noSmallDisk = smallDiskUnavailable();
function fullDiskTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name, fn, ignore: noSmallDisk !== undefined });
}

/** An inbox whose ~/.local/ship is a small disk of its own; disposing unmounts, then removes. */
async function inboxOnSmallDisk(mebibytes: number) {
  const inbox = await tempInbox();
  try {
    const disk = await mountSmallDisk(dirname(inbox.database), mebibytes * 1024 * 1024);
    return {
      inbox,
      disk,
      [Symbol.asyncDispose]: async () => {
        await disk[Symbol.asyncDispose]();
        await inbox[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await inbox[Symbol.asyncDispose]();
    throw error;
  }
}

// A command of about 900 KB: stored in the database's WAL, and written again as its script.
const bigCommand = (tag: string) => `: ${tag.repeat(900_000)}\necho ${tag}`;

fullDiskTest(
  "a command whose script does not fit on a full disk fails alone, with the cause, and the scheduler goes on",
  async () => {
    await using member = await inboxOnSmallDisk(8);
    const { inbox, disk } = member;
    await withScheduler(inbox, async () => {
      // Room for the message in the database, not for its script as well.
      await disk.fill(1_500_000);
      const failed = await ran(inbox, bigCommand("x"));
      assert.equal(failed.status, "error");
      assert.equal(failed.result, "");
      assert.match(
        failed.error ?? "",
        /^could not start: the disk is full \(no space left to write "[^"]+\/run\/[^"]+\.sh"\); free space on the disk that holds /,
      );
      assert.deepEqual(await Array.fromAsync(Deno.readDir(join(disk.path, "run"))), []);
      assert.equal((await ran(inbox, "echo still here")).result, "still here\n");
    });
  },
);

fullDiskTest(
  "a delivery the full disk has no room for is refused with the cause, and the scheduler goes on",
  async () => {
    await using member = await inboxOnSmallDisk(8);
    const { inbox, disk } = member;
    await withScheduler(inbox, async () => {
      await disk.fill(0);
      await assert.rejects(
        inbox.deliver({ recipient: inbox.address, command: bigCommand("y") }),
        (error: Error) => {
          assert.ok(error instanceof DiskFullError, `${error.name}: ${error.message}`);
          assert.match(
            error.message,
            /^Cannot store message "[0-9a-f]+" in the inbox of captain@s: the disk is full/,
          );
          assert.equal(error.path, `${inbox.database}.wal`);
          return true;
        },
      );
      assert.deepEqual(await inbox.list(), [], "nothing was stored");
      await disk.free();
      assert.equal((await ran(inbox, "echo after")).result, "after\n");
    });
  },
);

fullDiskTest(
  "after a checkpoint fails on a full disk, the scheduler opens its database again once space is freed",
  async () => {
    await using member = await inboxOnSmallDisk(40);
    const { inbox, disk } = member;
    const failures: string[] = [];
    const onEvent = (event: SchedulerEvent) => {
      if (event.type === "retrying") failures.push(event.error.message);
    };
    const scheduler = await Scheduler.start(inbox, { onEvent });
    try {
      // Room for a WAL past the checkpoint's 16 MiB, not for the checkpoint's copy of it.
      await disk.fill(20_000_000);
      for (let i = 0; i < 30 && !failures.some((f) => /^Cannot checkpoint/.test(f)); i++) {
        const finished = await ran(inbox, bigCommand("z"));
        // The last may find no room for its script: the disk is full by then.
        if (finished.status !== "done") assert.match(finished.error ?? "", /the disk is full/);
      }
      assert.match(failures.find((f) => /^Cannot checkpoint/.test(f)) ?? "", /the disk is full/);
      await disk.free();
      assert.equal((await ran(inbox, "echo after")).result, "after\n");
      assert.deepEqual((await inbox.list()).filter((m) => !isFinished(m)), []);
    } finally {
      scheduler.stop();
      await scheduler.finished;
    }
  },
);

fullDiskTest(
  "a scheduler that cannot start on a full disk says the disk is full, not to move the database aside",
  async () => {
    await using member = await inboxOnSmallDisk(8);
    const { inbox, disk } = member;
    await disk.fill(8192); // its pid file fits, the database does not
    await assert.rejects(Scheduler.start(inbox), (error: Error) => {
      assert.ok(error instanceof DiskFullError, `${error.name}: ${error.message}`);
      assert.match(error.message, /^The scheduler cannot start: the disk is full/);
      assert.doesNotMatch(error.message, /damaged|aside|\bmv\b/);
      return true;
    });
  },
);

Deno.test("a scheduler that cannot open an undamaged database says DuckDB's error and to fix it, not to move it aside", async () => {
  await using inbox = await tempInbox();
  // Neither damaged nor on a full disk: a directory where the database should be.
  await Deno.mkdir(inbox.database, { recursive: true });
  await assert.rejects(Scheduler.start(inbox), (error: Error) => {
    assert.equal(error.name, "DatabaseError", error.message);
    assert.match(error.message, /^The scheduler cannot start: .*Is a directory/);
    assert.doesNotMatch(error.message, /damaged|aside|\bmv\b|disk is full/);
    assert.equal(
      (error as Error & { next?: string }).next,
      'fix that and run "ohcommodore scheduler start" again',
    );
    return true;
  });
});

Deno.test("the detached scheduler's log holds no colour codes, not even Deno's own", async () => {
  await using inbox = await tempInbox();
  // A scheduler that dies as Deno reports it: an uncaught error, which Deno colours even in a
  // file unless NO_COLOR is set (this test's own environment must not set it for it).
  const script = join(inbox.home, "dies.ts");
  await Deno.writeTextFile(script, 'throw new Error("the scheduler died");\n');
  const saved = Deno.env.get("NO_COLOR");
  Deno.env.delete("NO_COLOR");
  try {
    await assert.rejects(
      startSchedulerService(inbox, [Deno.execPath(), "run", "--quiet", script]),
      /The scheduler did not start/,
    );
  } finally {
    if (saved !== undefined) Deno.env.set("NO_COLOR", saved);
  }
  const log = await Deno.readTextFile(schedulerLogOf(inbox.database));
  assert.match(log, /Uncaught.*the scheduler died/);
  assert.ok(!log.includes("\x1b"), JSON.stringify(log));
});

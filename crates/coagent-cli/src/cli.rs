//! The command surface (SPEC §4): every command takes `--hub`, `--json`, `--no-clipboard`
//! and `--yes`; each has `--help` with examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str =
    "CoAgent: web chats as stateless, replaceable orchestrators behind a human paste gate.";

const AFTER: &str = "\
The loop:
  coagent init                                  create the hub (.coagent/) in your project
  coagent todo add \"Write the parser tests\"      queue work
  coagent start --vendor claude --goal \"…\"      boot a chat: paste the payload it copies
  coagent ingest                                read the chat's reply from the clipboard
  coagent do show DO-…  /  coagent do run DO-…  review and run a proposed DO
  coagent status                                where everything stands

Environment: COAGENT_HUB (like --hub), COAGENT_NO_CLIPBOARD=1, NO_COLOR,
COAGENT_CLIPBOARD=system|osc52|none|file:PATH, COAGENT_CLIPBOARD_HOLD=30m (how long a copy is
held on Linux; 1h by default), COAGENT_NOW and COAGENT_SEED (reproducible runs).";

#[derive(Debug, Parser)]
// `bin_name`: usage lines say `coagent` on Windows too, not the `coagent.exe` of argv[0].
#[command(name = "coagent", bin_name = "coagent", version, about = ABOUT, after_help = AFTER, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The hub to use: a project root or its .coagent/ folder (default: found from the
    /// current folder upwards, like .git).
    #[arg(long, global = true, env = "COAGENT_HUB", value_name = "DIR")]
    pub hub: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Write payloads to the outbox only; never touch the clipboard.
    #[arg(long, global = true, env = "COAGENT_NO_CLIPBOARD", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_clipboard: bool,
    /// Answer yes to every question (questions are never asked without a terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the hub (.coagent/) in the current folder.
    #[command(
        after_help = "Examples:\n  coagent init\n  coagent init --hub ~/work/api   # create it elsewhere"
    )]
    Init,
    /// The CoProfile: public preferences (go into capsules) and private fields (masked).
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// The Policy Capsule every session starts with.
    #[command(subcommand)]
    Capsule(CapsuleCmd),
    /// The hub's TODOs; a handoff carries the open ones, top 3 first.
    #[command(subcommand)]
    Todo(TodoCmd),
    /// Open a session and write its boot payload (capsule + BPOE contract + handoff).
    #[command(
        after_help = "Examples:\n  coagent start --vendor claude --goal \"Ship the CSV importer\"\n  coagent start --vendor chatgpt --no-clipboard   # outbox only\n  coagent start --from-wrap W-7K3M9Q2XAB          # another chat from a wrap\n\n`coagent wrap` already boots the wrapped session's successor: --from-wrap is for a second\nchat from the same wrap (it warns, naming the session that already continues it)."
    )]
    Start(StartArgs),
    /// Sessions: list them, or end one without a wrap (close: done with it; abandon: the
    /// chat was given up).
    #[command(subcommand)]
    Session(SessionCmd),
    /// Read a chat's reply: the echo, DO proposals, ACK lines, BackchatMessages, NEXT k/n.
    #[command(
        after_help = "Examples:\n  coagent ingest                 # from the clipboard\n  coagent ingest reply.md\n  pbpaste | coagent ingest -\n  coagent ingest --session S-7K3M reply.md"
    )]
    Ingest(IngestArgs),
    /// BackchatMessages: emit one, list, show, validate a file against the schema.
    #[command(subcommand)]
    Backchat(BackchatCmd),
    /// ACKs received, and those still awaited.
    #[command(subcommand)]
    Ack(AckCmd),
    /// DOs: review, approve and run the scripts chats propose.
    #[command(subcommand)]
    Do(DoCmd),
    /// Artifacts: the logs, diffs and files DOs produced.
    #[command(subcommand)]
    Artifact(ArtifactCmd),
    /// Payloads not yet pasted into a chat; `outbox copy` copies one again.
    ///
    /// Newest first. A payload counts as pasted once a reply to it is ingested.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  coagent outbox\n  coagent outbox --all       # pasted ones too\n  coagent outbox copy        # the newest one, to the clipboard again"
    )]
    Outbox {
        #[command(subcommand)]
        copy: Option<OutboxCmd>,
        /// List pasted payloads too.
        #[arg(long)]
        all: bool,
    },
    /// CoWrap: snapshot a session into an archive, close it, and boot its successor.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  coagent wrap                      # the open session, to ANY chat\n  coagent wrap --to chatgpt         # continue in ChatGPT\n  coagent wrap verify .coagent/cache/wraps/CoWrap-….tar.zst"
    )]
    Wrap(WrapArgs),
    /// Boot a session from a wrap (addressed → ANY → newest) and record the receipt.
    #[command(
        after_help = "Examples:\n  coagent unwrap\n  coagent unwrap W-7K3M --vendor claude\n  coagent unwrap --latest"
    )]
    Unwrap {
        /// A wrap id (or prefix) or archive path.
        wrap: Option<String>,
        /// The newest wrap, consumed or not.
        #[arg(long)]
        latest: bool,
        /// The vendor of the new chat (also picks wraps addressed to it).
        #[arg(long)]
        vendor: Option<String>,
        /// Mask secret-guard findings in the respawn payload as [REDACTED:<rule>] instead
        /// of refusing it.
        #[arg(long)]
        redact: bool,
    },
    /// The hub's wraps, newest first.
    #[command(after_help = "Examples:\n  coagent wraps\n  coagent wraps --since 7d --json")]
    Wraps {
        /// Only this session's.
        #[arg(long)]
        session: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Remove consumed wraps older than N days (unconsumed ones are never removed).
    #[command(after_help = "Example:\n  coagent sweep --days 30 --yes")]
    Sweep {
        /// Age in days: consumed wraps older than this are removed.
        #[arg(long)]
        days: u64,
    },
    /// Foreground watcher: ingests files dropped into temps/inbox/, runs the bloat monitor,
    /// wraps a breached session, keeps temps/status/ current, notifies, holds the clipboard.
    #[command(
        after_help = "Examples:\n  coagent watch                 # until Ctrl-C\n  coagent watch --once          # one pass over the inbox and the monitor\n  coagent --json watch          # one JSON document per event (JSON Lines)"
    )]
    Watch(WatchArgs),
    /// The paste gate as a local page beside the chat tab (loopback only, a secret per run).
    ///
    /// Sessions and their bloat gauges, the outbox with Copy buttons, a box for the chat's
    /// reply, the DOs with their consent and live output, TODOs, wraps and stats. Runs in
    /// the foreground and does what `coagent watch` does while it runs.
    ///
    /// It listens on 127.0.0.1 and ::1 only. The address it opens carries a secret drawn
    /// anew for each run; every request without it is refused, and so is every request
    /// from another site or another local port.
    #[command(
        after_help = "Examples:\n  coagent ui                    # a free port; opens the page in your browser\n  coagent ui --port 7878        # a fixed port\n  coagent ui --no-open          # print the address only (open it yourself)"
    )]
    Ui(UiArgs),
    /// Share the hub's records with other machines through git: fetch, import what others
    /// added, export what changed here, commit and push (branch coagent/sync).
    ///
    /// Records go out as JSON Lines (one file per kind and month) and artifacts and
    /// transcripts by content hash, into .coagent/cache/sync, a git repository whose remote
    /// is yours: your git runs it, with your credentials, SSH keys and hooks. Never synced:
    /// the profile, guard.toml, config.toml, the clipboard, temps/. Every exported byte
    /// passes the secret guard.
    #[command(
        after_help = "Examples:\n  git init --bare ~/coagent-sync.git && coagent sync --remote ~/coagent-sync.git\n  coagent sync                       # the remote used last (default: the project's origin)\n  coagent sync --remote origin       # a remote of the project's repository\n  coagent sync --dry-run             # what would be exported\n  coagent sync --redact              # mask what the secret guard finds in the exported copy"
    )]
    Sync {
        /// A remote of the project's repository (origin), or a URL or path of a repository
        /// (default: the one used last, else origin).
        #[arg(long, value_name = "NAME|URL")]
        remote: Option<String>,
        /// Only print what would be exported; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Mask secret-guard findings as [REDACTED:<rule>] in the exported copy instead of
        /// refusing the sync (the hub's own records stay as they are).
        #[arg(long)]
        redact: bool,
    },
    /// Local metrics, including the seed's acceptance figures. Nothing is ever sent anywhere.
    #[command(
        after_help = "Examples:\n  coagent stats\n  coagent stats --anonymous --json   # counters only: no ids, paths or text"
    )]
    Stats {
        /// Counters only: no ids, paths or text.
        #[arg(long)]
        anonymous: bool,
        /// How many sessions to list, the newest.
        #[arg(long, default_value_t = 10, value_name = "N")]
        sessions: usize,
        /// List every session (streamed).
        #[arg(long)]
        all: bool,
    },
    /// Where things stand: the hub, the capsule, the sessions and every bloat signal.
    #[command(after_help = "Examples:\n  coagent status\n  coagent status --json | jq .level")]
    Status(StatusArgs),
    /// Check the hub, and with --repair mend what is safe to mend.
    ///
    /// Checks the store (integrity, schema, records lost while the hub holds data), runs
    /// whose coagent died, files no record points to, temp files of dead processes, payloads
    /// against their headers, wrap archives against their records and manifests. Exit 1
    /// while a problem stands.
    #[command(
        after_help = "Examples:\n  coagent doctor\n  coagent doctor --repair         # mend: restore the store from a backup, record interrupted runs, move orphans to cache/lost+found/\n  coagent doctor --repair --yes   # delete orphans instead of moving them\n  coagent doctor --json"
    )]
    Doctor(DoctorArgs),
    /// One-line status for shell prompts and status bars.
    #[command(
        after_help = "Examples:\n  coagent ticker\n  coagent ticker --format tmux   # for status-right\n  coagent ticker --format json"
    )]
    Ticker(TickerArgs),
    /// The vendor profiles in force (built-in, with config.toml's overrides).
    Vendors,
    /// The secret guard on its own.
    #[command(subcommand)]
    Guard(GuardCmd),
    /// A guided end-to-end run against a throwaway hub with bundled example replies:
    /// boot, echo, DOs, run, ACK, breach, wrap, respawn. Your own hubs are never touched.
    #[command(
        after_help = "Examples:\n  coagent demo          # pauses between steps on a terminal\n  coagent demo --yes    # straight through\n  coagent demo --keep   # keep the demo hub to look around"
    )]
    Demo {
        /// Keep the throwaway project and hub, and print where.
        #[arg(long)]
        keep: bool,
    },
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  coagent completions bash > ~/.local/share/bash-completion/completions/coagent\n  coagent completions zsh > ~/.zfunc/_coagent"
    )]
    Completions {
        /// The shell to write completions for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of coagent or of one of its commands, or write them all.
    #[command(
        after_help = "Examples:\n  coagent man > ~/.local/share/man/man1/coagent.1\n  coagent man do run                          # the page of `coagent do run`\n  coagent man --out ~/.local/share/man/man1   # one page per command: coagent-do-run.1, …"
    )]
    Man {
        /// The command whose page to print (`do run`); default: coagent's own page.
        command: Vec<String>,
        /// Write one page per command and subcommand into DIR instead.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        out: Option<PathBuf>,
    },
}

/// Which records a list shows: the newest 50 by default.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// How many to show, the newest.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,
    /// Every one (streamed: memory stays flat however many there are).
    #[arg(long)]
    pub all: bool,
    /// Only those made since an age (30m, 12h, 7d, 2w), a day (2026-11-01, UTC) or a time
    /// (RFC 3339).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
}

impl ListArgs {
    /// The window of records these options name, `now` being the hub's clock.
    pub fn window(&self, now: coagent::clock::Millis) -> coagent::Result<coagent::store::Window> {
        Ok(coagent::store::Window {
            limit: (!self.all).then_some(self.limit),
            since: match &self.since {
                Some(s) => Some(coagent::clock::parse_since(s, now)?),
                None => None,
            },
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Show the profile; private values are masked.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum CapsuleCmd {
    /// Render the capsule as it is pasted.
    Show,
    /// Fail (exit 1) when policy.md changed without a bump.
    #[command(after_help = "Example:\n  coagent capsule check || coagent capsule diff")]
    Check,
    /// Lock policy.md's content under a new version.
    #[command(
        after_help = "Examples:\n  coagent capsule bump minor   # new rules\n  coagent capsule bump patch   # wording only"
    )]
    Bump {
        /// Which part of the version goes up: major (rules changed incompatibly), minor
        /// (new rules), patch (wording only).
        level: BumpLevel,
    },
    /// Diff two versions (default: the locked version against policy.md).
    #[command(after_help = "Examples:\n  coagent capsule diff\n  coagent capsule diff 1.0.0 1.1.0")]
    Diff {
        /// The older version (default: the locked one).
        a: Option<String>,
        /// The newer version (default: policy.md as it is now).
        b: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BumpLevel {
    Major,
    Minor,
    Patch,
}

#[derive(Debug, Subcommand)]
pub enum TodoCmd {
    /// Add a TODO (at the end, or first with --top).
    #[command(
        after_help = "Examples:\n  coagent todo add \"Write the parser tests\"\n  coagent todo add \"Fix CI\" --top --acceptance \"CI green on main\""
    )]
    Add {
        /// What is to be done, in a line.
        title: String,
        /// What "done" means, for the chat.
        #[arg(long, default_value = "")]
        acceptance: String,
        /// Put it ahead of every open TODO.
        #[arg(long)]
        top: bool,
    },
    /// List open TODOs in handoff order, with their state and DOs (--all: done ones too).
    #[command(
        after_help = "A TODO is open, in progress (a DO naming it with `# TODO: T-…` was approved or ran)\nor done (by `todo done`, or by a chat's accepted `DONE T-… <ref>…` line).\n\nExamples:\n  coagent todo list\n  coagent todo list --all --json"
    )]
    List {
        /// Every TODO, done ones too (done ones newest first, after the open ones).
        #[arg(long)]
        all: bool,
        /// Only TODOs in this state: open, in_progress or done.
        #[arg(long)]
        state: Option<String>,
        /// How many to show without --all (open ones in handoff order, then the newest done
        /// ones).
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
        /// Only TODOs added (done ones: closed) since an age (7d, 12h), a day or a time.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
    },
    /// Mark a TODO done (any unique prefix of its id); it is closed by `human`.
    #[command(after_help = "Examples:\n  coagent todo done T-05D7\n  coagent todo list --all")]
    Done {
        /// The TODO (an id or a unique prefix, with or without `T-`).
        id: String,
    },
    /// Change a TODO's title or acceptance (any unique prefix of its id).
    #[command(
        after_help = "Examples:\n  coagent todo edit T-05D7 --title \"Write the CSV parser tests\"\n  coagent todo edit T-05D7 --acceptance \"cargo test passes\""
    )]
    Edit {
        /// The TODO (an id or a unique prefix, with or without `T-`).
        id: String,
        /// The new title.
        #[arg(long)]
        title: Option<String>,
        /// The new acceptance: what "done" means, for the chat.
        #[arg(long)]
        acceptance: Option<String>,
    },
    /// Move an open TODO one place up or down in the handoff order (the top 3 are the
    /// chat's first work).
    #[command(
        after_help = "Examples:\n  coagent todo move T-05D7 --up\n  coagent todo move T-05D7 --down"
    )]
    Move {
        /// The TODO (an id or a unique prefix, with or without `T-`).
        id: String,
        /// One place up: earlier in the handoff.
        #[arg(long, conflicts_with = "down", required_unless_present = "down")]
        up: bool,
        /// One place down: later in the handoff.
        #[arg(long)]
        down: bool,
    },
    /// Open a done TODO again (any unique prefix of its id).
    #[command(after_help = "Examples:\n  coagent todo reopen T-05D7\n  coagent todo list")]
    Reopen {
        /// The TODO (an id or a unique prefix, with or without `T-`).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// claude, chatgpt, gemini, copilot, generic, or one from config.toml.
    #[arg(long, default_value = "generic")]
    pub vendor: String,
    /// What this session is for.
    #[arg(long, default_value = "")]
    pub goal: String,
    /// Boot from a wrap's handoff (a W-… id or an archive path).
    #[arg(long, value_name = "W")]
    pub from_wrap: Option<String>,
    /// Mask secret-guard findings as [REDACTED:<rule>] instead of refusing.
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Sessions, newest first: state, vendor, echo, the wrap each came from and the
    /// sessions that continue it.
    #[command(
        after_help = "Examples:\n  coagent session list\n  coagent session list --open --json"
    )]
    List {
        /// Only the open ones (booting or live).
        #[arg(long)]
        open: bool,
        /// Only sessions in this state: booting, live, wrapped, closed or abandoned.
        #[arg(long, conflicts_with = "open")]
        state: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// End an open session you are done with: it takes no more replies and the monitor
    /// stops watching it (its records stay). `coagent wrap` ends one with a handoff instead.
    #[command(after_help = "Example:\n  coagent session close S-7K3M")]
    Close {
        /// The session (an id, a unique prefix, with or without `S-`).
        id: String,
    },
    /// End an open session whose chat was given up (lost, broken, never used).
    #[command(after_help = "Example:\n  coagent session abandon S-7K3M")]
    Abandon {
        /// The session (an id, a unique prefix, with or without `S-`).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// A file with the reply, or `-` for stdin (default: the clipboard).
    pub file: Option<PathBuf>,
    /// The session the reply belongs to (default: the one its reply tag `[S-… tN]` names, else the newest open one).
    #[arg(long)]
    pub session: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BackchatCmd {
    /// Write a message as a paste-ready payload.
    #[command(
        after_help = "Examples:\n  coagent backchat emit --to ANY --kind note --subject \"Schema changed\" --body \"See docs/schema.md\"\n  coagent backchat emit --to S-7K3M --kind request --subject \"Review the diff\" --requires-ack"
    )]
    Emit {
        /// Session id, vendor name, or ANY.
        #[arg(long)]
        to: String,
        /// handoff, todo, request, result, ack, note or wrap.
        #[arg(long)]
        kind: String,
        /// One line saying what the message is about.
        #[arg(long)]
        subject: String,
        /// Markdown; `-` reads it from stdin.
        #[arg(long, default_value = "")]
        body: String,
        /// Ask the recipient to answer with `ACK <id>`.
        #[arg(long)]
        requires_ack: bool,
        /// The id of the message this one answers (BC-…).
        #[arg(long)]
        reply_to: Option<String>,
        /// The session it is sent from (default: the newest open one).
        #[arg(long)]
        session: Option<String>,
        /// Mask secret-guard findings as [REDACTED:<rule>] instead of refusing.
        #[arg(long)]
        redact: bool,
    },
    /// Messages sent and received, newest first.
    #[command(
        after_help = "Examples:\n  coagent backchat list\n  coagent backchat list --kind result --since 1d"
    )]
    List {
        /// Only this session's.
        #[arg(long)]
        session: Option<String>,
        /// Only this kind: handoff, todo, request, result, ack, note or wrap.
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// One message, whole.
    Show {
        /// The message (an id or a unique prefix, with or without `BC-`).
        id: String,
    },
    /// Validate a JSON file against the BackchatMessage schema (exit 1 when invalid).
    #[command(after_help = "Example:\n  coagent backchat validate message.json")]
    Validate {
        /// The JSON file to check.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AckCmd {
    /// ACKs received (accepted or rejected, with the reason), or with --pending the
    /// results and messages still awaiting one, and for how long.
    List {
        /// What is still awaited instead: results and messages with no ACK yet.
        #[arg(long)]
        pending: bool,
        /// Only this session's.
        #[arg(long)]
        session: Option<String>,
        /// Only ACKs judged so: accepted or rejected.
        #[arg(long, conflicts_with = "pending")]
        state: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DoCmd {
    /// DOs and their states: the newest 50, in the order they were proposed.
    #[command(
        after_help = "Examples:\n  coagent do list\n  coagent do list --state proposed\n  coagent do list --session S-7K3M --all\n  coagent do list --since 7d --json"
    )]
    List {
        /// Only this session's.
        #[arg(long)]
        session: Option<String>,
        /// Only DOs in this state: proposed, approved, running, succeeded, failed,
        /// timed_out, killed, interrupted or acked.
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// The script, its hash, the guard's findings and risk hints, its runs and artifacts.
    #[command(after_help = "Example:\n  coagent do show DO-7K3M")]
    Show {
        /// The DO (an id or a unique prefix, with or without `DO-`).
        id: String,
    },
    /// Pin the script's sha256: only this content may run.
    Approve {
        /// The DO (an id or a unique prefix, with or without `DO-`).
        id: String,
    },
    /// Run one DO or several (your explicit consent): live output, a log artifact, the
    /// work tree's diff, the files left in $COAGENT_OUT, and ONE result payload for all of
    /// them, with the ACK lines to expect.
    #[command(
        after_help = "Examples:\n  coagent do run DO-7K3M\n  coagent do run DO-7K3M DO-Q4WR         # one result payload for both\n  coagent do run --all                   # what the latest reply proposed, in its order\n  coagent do run --all --keep-going      # do not stop at the first failure\n  coagent do run DO-7K3M --timeout 60\n  coagent do run DO-7K3M --rerun         # keeps the first run's record\n\nA DO with risk hints (see `coagent do show`) is run only after you say yes; without a\nterminal, only with --yes."
    )]
    Run {
        /// The DOs to run, in order (an id or a unique prefix each).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Run the DOs the session's latest reply proposed that have not run yet.
        #[arg(long)]
        all: bool,
        /// With --all: the session (default: the newest open one).
        #[arg(long, requires = "all")]
        session: Option<String>,
        /// Go on after a DO that failed (by default the rest are not run).
        #[arg(long)]
        keep_going: bool,
        /// Seconds before a script and its children are killed (default: config, 600).
        #[arg(long)]
        timeout: Option<u64>,
        /// Run again a DO that already ran (a new run record).
        #[arg(long)]
        rerun: bool,
        /// Mask secret-guard findings in the result payload instead of refusing it.
        #[arg(long)]
        redact: bool,
    },
    /// Write the result payload of the DOs' latest runs again (e.g. with --redact after a
    /// refusal): one payload for all the DOs named.
    #[command(
        after_help = "Examples:\n  coagent do result DO-7K3M --redact\n  coagent do result DO-7K3M DO-Q4WR"
    )]
    Result {
        /// The DOs whose latest runs the payload reports, in order.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Mask secret-guard findings as [REDACTED:<rule>] instead of refusing.
        #[arg(long)]
        redact: bool,
    },
    /// Reverse the work-tree change a DO made, after confirmation.
    Undo {
        /// The DO whose change to reverse.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArtifactCmd {
    /// Artifacts, newest first.
    #[command(
        after_help = "Examples:\n  coagent artifact list\n  coagent artifact list --kind diff --since 1d"
    )]
    List {
        /// Only this DO's.
        #[arg(long = "do")]
        do_id: Option<String>,
        /// Only the artifacts of this session's DOs.
        #[arg(long)]
        session: Option<String>,
        /// Only this kind: log, diff or file.
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// One artifact's record, and its content with --content.
    Show {
        /// The artifact (an id or a unique prefix, with or without `A-`).
        id: String,
        /// Print the artifact's content after its record.
        #[arg(long)]
        content: bool,
    },
    /// A payload holding the artifact's whole text, for the chat (split into parts `k/n`
    /// when it is over the vendor's paste limit): what a result payload had to cut.
    #[command(
        after_help = "Examples:\n  coagent artifact send A-7K3M\n  coagent artifact send A-7K3M --redact   # mask what the secret guard finds"
    )]
    Send {
        /// The artifact (an id or a unique prefix, with or without `A-`).
        id: String,
        /// Mask secret-guard findings as [REDACTED:<rule>] instead of refusing.
        #[arg(long)]
        redact: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// Put a payload on the clipboard again (default: the newest not yet pasted).
    #[command(
        after_help = "Examples:\n  coagent outbox copy\n  coagent outbox copy BC-01JD…          # a payload's id, or a unique prefix\n  coagent outbox copy BC-01JD… --part 2"
    )]
    Copy {
        /// The payload's id (BC-…) or a unique prefix (default: the newest not yet pasted).
        id: Option<String>,
        /// Which part of a split payload (default: 1).
        #[arg(long, default_value_t = 1)]
        part: usize,
    },
}

#[derive(Debug, Args)]
pub struct WrapArgs {
    #[command(subcommand)]
    pub verify: Option<WrapSub>,
    /// The session to wrap (default: the newest open one).
    #[arg(long)]
    pub session: Option<String>,
    /// Who continues: a vendor name, a session id, or ANY.
    #[arg(long)]
    pub to: Option<String>,
    /// Only write the archive; boot no successor now (`coagent unwrap` does it later).
    #[arg(long)]
    pub no_respawn: bool,
    /// Mask secret-guard findings in the respawn payload as [REDACTED:<rule>] instead of
    /// refusing it.
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, Subcommand)]
pub enum WrapSub {
    /// Check an archive against its manifest: changed, missing or extra files (exit 1).
    Verify {
        /// The archive (`CoWrap-….tar.zst`).
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct UiArgs {
    /// The port to listen on (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the page's address instead of opening it in the default browser.
    #[arg(long)]
    pub no_open: bool,
    /// Listen on this address instead of 127.0.0.1 and ::1. An address other machines can
    /// reach is refused unless --allow-remote-bind is given too.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::IpAddr>,
    /// Allow --bind on an address other machines can reach. Anyone who can reach it and
    /// learns the page's address can read your payloads and run scripts on this machine:
    /// only on a network you trust entirely.
    #[arg(long, requires = "bind")]
    pub allow_remote_bind: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Ingest every inbox file that is complete (no process has it open for writing; the
    /// others are named as skipped), check the monitor once, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between bloat checks (default: config.toml's watch.check_interval_secs, 5).
    #[arg(long)]
    pub interval: Option<f64>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many closed sessions to list after the open ones.
    #[arg(long, default_value_t = 5)]
    pub recent: usize,
}

#[derive(Debug, Args)]
pub struct TickerArgs {
    /// plain (a shell prompt), tmux (colours for status-right) or json.
    #[arg(long, value_enum, default_value_t = TickerFormat::Plain)]
    pub format: TickerFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TickerFormat {
    Plain,
    Tmux,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum GuardCmd {
    /// Scan files, folders (recursively, honouring .gitignore) or stdin (`-`); exit 1 on findings.
    #[command(
        after_help = "Examples:\n  coagent guard scan .\n  git diff | coagent guard scan -\n  coagent guard scan --json src/ > findings.json"
    )]
    Scan {
        /// Files and folders to scan, or `-` for stdin.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Mend what is safe to mend: restore the newest sound backup of a damaged store, record
    /// interrupted runs and kill their leftovers, remove dead processes' temp files, move
    /// files no record points to into cache/lost+found/ (with --yes: delete them).
    #[arg(long)]
    pub repair: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every argument and option of every command, with where it sits, that has no help.
    fn undescribed(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let builtin = matches!(a.get_id().as_str(), "help" | "version");
            if !builtin && a.get_help().is_none() && a.get_long_help().is_none() {
                out.push(format!("{path} {}", a.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                out.push(format!("{path} {} (the command itself)", sub.get_name()));
            }
            undescribed(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_and_option_has_a_description() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        undescribed(&cmd, "coagent", &mut missing);
        assert!(
            missing.is_empty(),
            "no help text for:\n  {}",
            missing.join("\n  ")
        );
    }
}

//! The result payload: what the chat reviews after one turn's DOs ran.
//!
//! One payload for every DO run together (`do run ID ID…`, `do run --all`): per DO its
//! outcome, the diff (stat first, then the hunks), the text of every file it returned
//! (`$COAGENT_OUT` and `# ARTIFACT:`), and its log (head and tail), then one `ACK` line per
//! DO. It is fitted to a budget of characters — the vendor's paste limit unless
//! `config.toml` says `[result] budget_chars` — by sharing the room fairly between the
//! contents: a small item is shown whole, the large ones get equal shares, and whatever is
//! cut is said plainly with the command that sends the rest (`coagent artifact send A-…`).
//! Binary artifacts are described (size, type, sha256), never pasted.
//!
//! This module only composes text; sending it (guard, parts, outbox, clipboard) is
//! [`crate::payload`]'s job.

use serde::Serialize;

use crate::artifact::{self, Artifact};
use crate::backchat::{BackchatMessage, CapsuleRef, MessageKind, SchemaTag};
use crate::clock::{human_duration, rfc3339};
use crate::hub::Hub;
use crate::id::Kind;
use crate::payload::{Outgoing, PART_OVERHEAD};
use crate::template::Templates;
use crate::turns::Parts;
use crate::{Result, session, vendor};

use super::{Do, RunRecord};

/// Files in a diff's stat before the rest is only counted.
const STAT_FILES: usize = 200;
/// Below this many characters a share of the budget shows nothing useful: the item is
/// only named, with the command that sends it.
const MIN_SHARE: usize = 120;

/// A DO of the batch with no result, as the result payload names it.
#[derive(Serialize)]
pub struct Skipped<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub reason: &'a str,
    /// Its script ran (its records were not written).
    pub ran: bool,
}

/// One DO's run, as the result payload shows it.
pub struct Ran<'a> {
    pub r#do: &'a Do,
    pub run: &'a RunRecord,
    pub artifacts: &'a [Artifact],
}

/// A piece of content competing for the budget.
struct Item {
    /// Index of the DO in the payload.
    owner: usize,
    artifact: Artifact,
    heading: String,
    lang: &'static str,
    text: String,
    weight: usize,
    cut: Cut,
    /// Shown already under another heading (a log the script also saved to a file, a new
    /// file the diff shows whole): the note that says where.
    same_as: Option<String>,
    /// A file left to another item that shows it whole (a new file in the diff, a file
    /// whose text the log printed): that item's index, and the file's own text, shown
    /// after all if that item is cut.
    shown_in: Option<(usize, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Keep the start (diffs, files).
    Head,
    /// Keep a third from the start and two thirds from the end (logs).
    HeadTail,
}

#[derive(Serialize)]
struct SectionView {
    heading: String,
    fence: String,
    lang: &'static str,
    body: String,
    note: String,
}

#[derive(Serialize)]
struct DoView {
    id: String,
    title: String,
    lang: String,
    status: String,
    exit_code: Option<i32>,
    duration: String,
    /// Who or what ended a run that did not end by itself, for the chat.
    stopped: Option<String>,
    commits: Vec<String>,
    /// The changed files, one line each: shown only when the diff is cut (a whole diff
    /// names them already).
    stat: Vec<String>,
    diff_whole: bool,
    described: Vec<String>,
    sections: Vec<SectionView>,
    ack_line: String,
}

/// Who or what ended a run before its script did, said so that the chat does not mistake
/// a stop for a failure of the script (or the other way round).
fn stopped_by(run: &RunRecord) -> Option<String> {
    let took = human_duration(run.duration_ms.unwrap_or(0));
    match (run.status.as_str(), run.signal) {
        ("killed", _) => Some(format!(
            "The user stopped it (Ctrl-C) after {took}, with its child processes: it did not finish, and that is not a failure of the script"
        )),
        ("timed_out", _) => Some(format!(
            "CoAgent killed it, with its child processes, when its time limit ran out (after {took}): it did not finish"
        )),
        (_, Some(sig)) => Some(format!(
            "It was ended by signal {sig}, which CoAgent did not send (something else on the machine killed it)"
        )),
        _ => None,
    }
}

/// The line a chat answers one DO's result with: every artifact of its run as a ref.
pub fn ack_line(do_id: &str, artifacts: &[Artifact]) -> String {
    let mut s = format!("ACK {do_id}");
    for a in artifacts {
        s.push(' ');
        s.push_str(&a.reference());
    }
    s
}

/// The result payload of `ran` (one or several DOs of one session), and the
/// BackchatMessage it carries.
pub fn payload(
    hub: &mut Hub,
    session_id: &str,
    ran: &[Ran<'_>],
    not_run: &[Skipped<'_>],
) -> Result<(Outgoing, BackchatMessage, vendor::Vendor)> {
    let s = session::get(hub, session_id)?;
    let cfg = hub.config()?;
    let v = vendor::find(&cfg, &s.vendor)?;
    let budget = match cfg.result.budget_chars {
        0 => v.paste_chars.saturating_sub(PART_OVERHEAD),
        n => n,
    };
    let ids: Vec<&str> = ran.iter().map(|r| r.r#do.id.as_str()).collect();
    let msg_id = hub.new_id(Kind::Message);
    let now = hub.now_ms();
    let message = BackchatMessage {
        schema: SchemaTag::V1,
        id: msg_id.clone(),
        kind: MessageKind::Result,
        from: "coagent".into(),
        to: s.id.clone(),
        created_at: rfc3339(now),
        capsule: CapsuleRef {
            version: s.capsule_version.clone(),
            sha256: s.capsule_sha256.clone(),
        },
        // The ids first: `ack` finds the DOs a result message covers by them.
        subject: ids.join(" "),
        // The message is recorded, not pasted: the chat reads the markdown (outcomes,
        // contents, the ACK lines to answer), and a block would only repeat its ids at
        // ~120 tokens a payload. The outcomes and refs are in the runs and artifacts.
        body: String::new(),
        todos: Vec::new(),
        artifacts: Vec::new(),
        reply_to: None,
        requires_ack: true,
    };
    let (mut views, items) = gather(hub, ran)?;
    let templates = Templates::load(Some(&hub.dir))?;
    let render = |views: &[DoView]| {
        templates.render(
            "result.md",
            serde_json::json!({
                "count": views.len(),
                "dos": views,
                // The chat proposed these too: it must know they did not run, and why.
                "not_run": not_run,
                "ack_lines": views.iter().map(|d| d.ack_line.clone()).collect::<Vec<_>>(),
            }),
        )
    };
    // What the frame costs (headings, stats, notes, the message) is measured by rendering
    // it with every content empty; the contents share what is left.
    place(&mut views, &items, &vec![0; items.len()]);
    let frame = render(&views)?.len();
    let room = budget.saturating_sub(frame);
    let mut items = items;
    let mut shares = allocate(&sizes_of(&items), room);
    // A new file is left to the diff only when the diff is shown whole.
    if show_again_what_the_cut_diff_hides(&mut items, &shares) {
        shares = allocate(&sizes_of(&items), room);
    }
    place(&mut views, &items, &shares);
    let text = render(&views)?;
    let parts = Parts::results(
        &text,
        views
            .iter()
            .flat_map(|v| v.sections.iter().map(|s| s.body.as_str())),
    );
    let stem = match ids.as_slice() {
        [one] => format!("{}-result-{one}", s.id),
        [first, ..] => format!("{}-results-{first}-and-{}", s.id, ids.len() - 1),
        [] => format!("{}-result", s.id),
    };
    let out = Outgoing {
        session: Some(s.id.clone()),
        kind: "result".into(),
        stem,
        id: msg_id,
        text,
        parts,
    };
    Ok((out, message, v))
}

fn sizes_of(items: &[Item]) -> Vec<(usize, usize)> {
    items.iter().map(|i| (i.text.len(), i.weight)).collect()
}

/// Gives back their text to files left to a diff or log that its share cuts; true when
/// any.
fn show_again_what_the_cut_diff_hides(items: &mut [Item], shares: &[usize]) -> bool {
    let cut: Vec<bool> = items
        .iter()
        .zip(shares)
        .map(|(i, &share)| i.text.trim_end_matches('\n').len() > share)
        .collect();
    let mut any = false;
    for item in items.iter_mut() {
        if item.shown_in.as_ref().is_some_and(|(other, _)| cut[*other])
            && let Some((_, text)) = item.shown_in.take()
        {
            item.text = text;
            item.same_as = None;
            any = true;
        }
    }
    any
}

/// Whether a file's text stands whole in a log (a script that saved its output and
/// printed it too); short files are shown anyway, a note costing about as much.
fn printed_in(text: &str, log: &[u8]) -> bool {
    const SHORTEST: usize = 120;
    let text = text.trim_end_matches('\n');
    // A log and a file can be megabytes each: one linear search, not a window per byte.
    text.len() >= SHORTEST && memchr::memmem::find(log, text.as_bytes()).is_some()
}

/// Bytes of a file artifact read for a payload: far more than any paste limit.
const FILE_HEAD_MAX: usize = 4 << 20;

/// The fixed part of every DO's view, and the contents that compete for room.
fn gather(hub: &Hub, ran: &[Ran<'_>]) -> Result<(Vec<DoView>, Vec<Item>)> {
    let mut views = Vec::new();
    let mut items = Vec::new();
    for (owner, r) in ran.iter().enumerate() {
        let failed = r.run.status != "succeeded";
        let mut view = DoView {
            id: r.r#do.id.clone(),
            title: r.r#do.title.clone(),
            lang: r.r#do.lang.clone(),
            status: r.run.status.clone(),
            exit_code: r.run.exit_code,
            duration: human_duration(r.run.duration_ms.unwrap_or(0)),
            stopped: stopped_by(r.run),
            commits: Vec::new(),
            stat: Vec::new(),
            diff_whole: false,
            described: Vec::new(),
            sections: Vec::new(),
            ack_line: ack_line(&r.r#do.id, r.artifacts),
        };
        for a in r.artifacts.iter().filter(|a| a.kind == "commit") {
            // The summary's fourth line is the subject (see `Tracker::describe_commit`).
            let summary = artifact::read(hub, a)?;
            let summary = String::from_utf8_lossy(&summary);
            let subject = summary.lines().nth(3).unwrap_or_default().trim();
            view.commits.push(format!("`{}` {subject}", a.reference()));
        }
        let mut diff: Option<(Vec<u8>, String, usize)> = None;
        for a in r.artifacts.iter().filter(|a| a.kind == "diff") {
            let bytes = artifact::read(hub, a)?;
            view.stat = stat_lines(&bytes);
            diff = Some((bytes.clone(), a.reference(), items.len()));
            items.push(Item {
                owner,
                heading: format!("Diff (`{}`)", a.reference()),
                lang: "diff",
                text: chat_diff(&bytes),
                weight: 2,
                cut: Cut::Head,
                same_as: None,
                shown_in: None,
                artifact: a.clone(),
            });
        }
        // The DO's log, read once: files are compared with it, then it is shown.
        let log = match r.artifacts.iter().find(|a| a.kind == "log") {
            Some(a) => Some((a, a.reference(), artifact::read(hub, a)?)),
            None => None,
        };
        let mut waiting_for_log: Vec<usize> = Vec::new();
        for a in r.artifacts.iter().filter(|a| a.kind == "file") {
            let shown = if a.source.is_empty() {
                a.name().to_string()
            } else {
                a.source.clone()
            };
            if !a.stored {
                view.described.push(format!(
                    "`{shown}` (`{}`): too large to keep, {} bytes, sha256 {}",
                    a.reference(),
                    a.bytes,
                    a.sha256
                ));
                continue;
            }
            // A payload shows a file's head at most: a large one is not read whole.
            let (bytes, _) = artifact::read_head(hub, a, FILE_HEAD_MAX)?;
            let text = match std::str::from_utf8(&bytes) {
                // A head may end inside a character.
                Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
                    std::str::from_utf8(&bytes[..e.valid_up_to()])
                }
                other => other,
            };
            match text {
                Ok(text) if !bytes.contains(&0) => {
                    // A file the DO created is in its diff whole already; a file whose
                    // text the script also printed (`| tee`) is in its log.
                    let in_diff = diff
                        .as_ref()
                        .filter(|(d, ..)| new_file_in_diff(d, &a.source).as_deref() == Some(text))
                        .map(|(_, r, i)| {
                            (*i, format!("the same text as the new file in `{r}` above"))
                        });
                    let in_log = match in_diff {
                        Some(_) => None,
                        None => log.as_ref().filter(|(l, _, bytes)| {
                            l.sha256 != a.sha256 && printed_in(text, bytes)
                        }),
                    };
                    let left_to = in_diff.or_else(|| {
                        in_log.map(|(l, ..)| {
                            waiting_for_log.push(items.len());
                            (
                                usize::MAX,
                                format!("printed whole in the log below (`{}`)", l.reference()),
                            )
                        })
                    });
                    items.push(Item {
                        owner,
                        heading: format!("File `{shown}` (`{}`)", a.reference()),
                        lang: "text",
                        text: match left_to {
                            Some(_) => String::new(),
                            None => text.to_string(),
                        },
                        weight: 1,
                        cut: Cut::Head,
                        shown_in: left_to.as_ref().map(|(i, _)| (*i, text.to_string())),
                        same_as: left_to.map(|(_, note)| note),
                        artifact: a.clone(),
                    })
                }
                _ => view.described.push(format!(
                    "`{shown}` (`{}`): binary, {}, {} bytes, sha256 {}",
                    a.reference(),
                    kind_of(&bytes),
                    a.bytes,
                    a.sha256
                )),
            }
        }
        for (a, read) in log.into_iter().map(|(a, _, bytes)| (a, Some(bytes))) {
            // Chats often save the output they print into `$COAGENT_OUT` too: the same
            // text is shown once.
            let same_as = r
                .artifacts
                .iter()
                .find(|f| f.kind == "file" && f.sha256 == a.sha256 && f.bytes > 0)
                .map(|f| format!("the same text as `{}` above", f.reference()));
            let bytes = match (&same_as, read) {
                (Some(_), _) => Vec::new(),
                (None, Some(bytes)) => bytes,
                (None, None) => artifact::read(hub, a)?,
            };
            let index = items.len();
            for &file in &waiting_for_log {
                if let Some((at, _)) = items[file].shown_in.as_mut() {
                    *at = index;
                }
            }
            items.push(Item {
                same_as,
                shown_in: None,
                owner,
                heading: format!("Log (`{}`)", a.reference()),
                lang: "text",
                text: String::from_utf8_lossy(&bytes).into_owned(),
                // A failed DO's log is what the chat needs most.
                weight: if failed { 3 } else { 1 },
                cut: Cut::HeadTail,
                artifact: a.clone(),
            });
        }
        views.push(view);
    }
    Ok((views, items))
}

/// Puts each item, cut to its share, into its DO's sections.
fn place(views: &mut [DoView], items: &[Item], shares: &[usize]) {
    for v in views.iter_mut() {
        v.sections.clear();
    }
    for (item, &share) in items.iter().zip(shares) {
        let (body, note) = fit(item, share);
        if item.artifact.kind == "diff" {
            views[item.owner].diff_whole = note.is_empty();
        }
        views[item.owner].sections.push(SectionView {
            heading: item.heading.clone(),
            fence: fence_for(&body),
            lang: item.lang,
            body,
            note,
        });
    }
}

/// The item's text cut to `share` bytes, and the note saying what was left out.
fn fit(item: &Item, share: usize) -> (String, String) {
    let text = item.text.trim_end_matches('\n');
    let total = text.lines().count();
    if let Some(note) = &item.same_as {
        return (String::new(), note.clone());
    }
    if text.is_empty() {
        return (String::new(), "empty".to_string());
    }
    if text.len() <= share {
        return (text.to_string(), String::new());
    }
    let send = format!("`coagent artifact send {}`", item.artifact.id);
    if share < MIN_SHARE {
        return (
            String::new(),
            format!(
                "not shown for lack of room ({total} lines, {} bytes): {send} sends it",
                item.artifact.bytes
            ),
        );
    }
    match item.cut {
        Cut::Head => {
            let head = head_lines(text, share);
            let shown = head.lines().count();
            let note = format!("cut: lines 1–{shown} of {total} shown; {send} sends the whole");
            (head, note)
        }
        Cut::HeadTail => {
            let head = head_lines(text, share / 3);
            let tail = tail_lines(text, share - head.len());
            let (h, t) = (head.lines().count(), tail.lines().count());
            let body = format!(
                "{head}\n[… {} lines cut …]\n{tail}",
                total.saturating_sub(h + t)
            );
            let note = format!(
                "cut: the first {h} and last {t} of {total} lines shown; {send} sends the whole log"
            );
            (body, note)
        }
    }
}

/// Whole lines from the start, at most `max` bytes (a first line longer than that is cut
/// at a character boundary).
fn head_lines(text: &str, max: usize) -> String {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if end + line.len() > max {
            break;
        }
        end += line.len();
    }
    if end == 0 {
        end = floor_char(text, max);
    }
    text[..end].trim_end_matches('\n').to_string()
}

/// Whole lines from the end, at most `max` bytes.
fn tail_lines(text: &str, max: usize) -> String {
    let mut start = text.len();
    for line in text.split_inclusive('\n').rev() {
        if text.len() - start + line.len() > max {
            break;
        }
        start -= line.len();
    }
    if start == text.len() {
        let mut s = text.len().saturating_sub(max);
        while !text.is_char_boundary(s) {
            s += 1;
        }
        start = s;
    }
    text[start..].to_string()
}

fn floor_char(text: &str, max: usize) -> usize {
    let mut i = max.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Shares of `room` for items of the given `(size, weight)`: max-min fair by weight, so
/// an item smaller than its share is shown whole and the rest is split between the others.
pub(crate) fn allocate(items: &[(usize, usize)], room: usize) -> Vec<usize> {
    let total: usize = items.iter().map(|i| i.0).sum();
    if total <= room {
        return items.iter().map(|i| i.0).collect();
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Smallest size per unit of weight first: those are the ones that fit whole.
    order.sort_by(|&a, &b| {
        let (sa, wa) = (items[a].0, items[a].1.max(1));
        let (sb, wb) = (items[b].0, items[b].1.max(1));
        (sa * wb).cmp(&(sb * wa))
    });
    let mut shares = vec![0; items.len()];
    let mut left = room;
    let mut weight: usize = items.iter().map(|i| i.1.max(1)).sum();
    for i in order {
        let w = items[i].1.max(1);
        let fair = left * w / weight.max(1);
        let give = items[i].0.min(fair);
        shares[i] = give;
        left -= give;
        weight -= w;
    }
    shares
}

/// A backtick fence longer than any run of backticks inside `body`, so nothing in an
/// artifact can close the payload's block.
pub(crate) fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(4))
}

/// The diff as a reviewer reads it: `index` lines and binary patch data left out (the
/// artifact keeps both; `do undo` needs them, a chat does not).
pub(crate) fn chat_diff(diff: &[u8]) -> String {
    let text = String::from_utf8_lossy(diff);
    let mut out = String::with_capacity(text.len());
    let mut in_binary = false;
    for line in text.lines() {
        if in_binary {
            if line.starts_with("diff --git ") {
                in_binary = false;
            } else {
                continue;
            }
        }
        if line.starts_with("index ") {
            continue;
        }
        if line == "GIT binary patch" {
            out.push_str("(binary content not shown)\n");
            in_binary = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The whole text of `path` when `diff` creates it (a new text file, one hunk): what the
/// diff shows of it, with the `+` marks taken off.
fn new_file_in_diff(diff: &[u8], path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(diff).ok()?;
    let header = format!("diff --git a/{path} b/{path}\n");
    let start = match text.strip_prefix(header.as_str()) {
        Some(_) => header.len(),
        None => text.find(&format!("\n{header}"))? + 1 + header.len(),
    };
    let section = &text[start..];
    let section = &section[..section
        .find("\ndiff --git ")
        .map_or(section.len(), |i| i + 1)];
    let mut lines = section.split_inclusive('\n');
    if !lines.next()?.starts_with("new file mode ") {
        return None;
    }
    let mut body = String::new();
    let mut in_hunk = false;
    for line in lines {
        if !in_hunk {
            in_hunk = line.starts_with("@@ -0,0 +1");
            continue;
        }
        if line.starts_with("\\ No newline at end of file") {
            body.pop();
        } else if let Some(added) = line.strip_prefix('+') {
            body.push_str(added);
        } else {
            // A second hunk or anything else: not a plain new file.
            return None;
        }
    }
    in_hunk.then_some(body)
}

/// One line per changed file: `M path (+3 −1)`.
fn stat_lines(diff: &[u8]) -> Vec<String> {
    use coagent_runner::worktree::FileStatus;
    let stats = coagent_runner::worktree::diff_stat(diff);
    let mut lines: Vec<String> = stats
        .iter()
        .take(STAT_FILES)
        .map(|f| {
            let mark = match f.status {
                FileStatus::Added => "A",
                FileStatus::Deleted => "D",
                FileStatus::ModeChanged => "T",
                _ => "M",
            };
            if f.binary {
                format!("{mark} {} (binary)", f.path)
            } else {
                format!("{mark} {} (+{} −{})", f.path, f.added, f.removed)
            }
        })
        .collect();
    if stats.len() > STAT_FILES {
        lines.push(format!("… and {} more files", stats.len() - STAT_FILES));
    }
    lines
}

/// What a binary file is, from its first bytes. A short table of the formats DOs
/// commonly return; anything else is "data" (a whole MIME database is not worth a
/// dependency for one word in a description).
fn kind_of(bytes: &[u8]) -> &'static str {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "PNG image"),
        (b"\xFF\xD8\xFF", "JPEG image"),
        (b"GIF8", "GIF image"),
        (b"%PDF", "PDF document"),
        (b"PK\x03\x04", "zip archive"),
        (b"\x1F\x8B", "gzip data"),
        (b"\x28\xB5\x2F\xFD", "zstd data"),
        (b"\x7FELF", "ELF executable"),
        (b"SQLite format 3", "SQLite database"),
    ];
    MAGIC
        .iter()
        .find(|(m, _)| bytes.starts_with(m))
        .map_or("data", |(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_items_are_whole_and_large_ones_share_the_rest() {
        let shares = allocate(&[(100, 1), (10_000, 1), (10_000, 1)], 2_100);
        assert_eq!(shares, vec![100, 1_000, 1_000]);
        assert_eq!(allocate(&[(5, 1), (7, 2)], 100), vec![5, 7]);
        let weighted = allocate(&[(10_000, 2), (10_000, 1)], 3_000);
        assert_eq!(weighted, vec![2_000, 1_000]);
        assert!(allocate(&[(50, 1), (60, 1)], 0).iter().all(|s| *s == 0));
    }

    #[test]
    fn a_log_keeps_its_head_and_tail() {
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let item = Item {
            owner: 0,
            artifact: Artifact {
                id: "A-1".into(),
                do_id: None,
                run_id: None,
                kind: "log".into(),
                path: "artifacts/A-1/log.txt".into(),
                source: String::new(),
                sha256: String::new(),
                bytes: text.len() as i64,
                created_at: 0,
                stored: true,
            },
            heading: String::new(),
            lang: "text",
            text,
            weight: 1,
            cut: Cut::HeadTail,
            same_as: None,
            shown_in: None,
        };
        let (body, note) = fit(&item, 300);
        assert!(body.starts_with("line 1\n"), "{body}");
        assert!(body.ends_with("line 100"), "{body}");
        assert!(body.contains("lines cut"), "{body}");
        assert!(note.contains("coagent artifact send A-1"), "{note}");
        assert!(body.len() <= 340, "{}", body.len());
        let (whole, none) = fit(&item, 10_000);
        assert!(none.is_empty() && whole.lines().count() == 100);
    }

    #[test]
    fn binary_patches_and_index_lines_are_not_pasted() {
        let diff = b"diff --git a/x.png b/x.png\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 5\nMcmZ?wbnxhP\n\nliteral 0\nHcmV?d00001\n\ndiff --git a/a.txt b/a.txt\nindex 1..2 100644\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-old\n+new\n";
        let shown = chat_diff(diff);
        assert!(!shown.contains("McmZ"), "{shown}");
        assert!(!shown.contains("index "), "{shown}");
        assert!(shown.contains("(binary content not shown)"));
        assert!(shown.contains("+new"), "{shown}");
    }

    #[test]
    fn fences_outgrow_the_content() {
        assert_eq!(fence_for("plain"), "````");
        assert_eq!(fence_for("a ````` b"), "``````");
    }
}

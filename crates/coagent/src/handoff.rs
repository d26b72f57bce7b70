//! The wrap's handoff: what a fresh chat needs to carry on a session, in markdown, within a
//! fixed token budget however long the session ran. Open TODOs, the last decisions and what
//! was left proposed come first; finished work follows as one line per DO with its artifact
//! refs, newest first, as many as the budget holds, and the rest is counted in one line
//! (the artifacts stay in the hub and the wrap's archive: `coagent artifact send` brings one
//! when the new chat asks). This module only renders; the wrap gathers the records.

use crate::session::Session;
use crate::todo::Todo;
use crate::vendor;

/// The handoff's budget in (estimated) tokens: with the default capsule and contract, the
/// respawn payload stays under 2,000 tokens.
pub const BUDGET_TOKENS: u64 = 1_000;
/// Open TODOs listed by name (the top 3 always, the rest while the budget lasts).
pub const OPEN_TODOS: usize = 12;
/// The chat's last decisions and notes listed.
pub const DECISIONS: usize = 5;
/// Finished TODOs listed.
pub const DONE_TODOS: usize = 10;
/// The longest title or note a line carries, in characters.
const LINE_CHARS: usize = 140;

/// One DO of the wrapped session, with its artifacts as `(id, kind)`.
#[derive(Debug, Clone)]
pub struct DoLine {
    pub id: String,
    pub title: String,
    pub lang: String,
    pub state: String,
    pub artifacts: Vec<(String, String)>,
}

impl DoLine {
    pub fn finished(&self) -> bool {
        !matches!(self.state.as_str(), "proposed" | "approved" | "running")
    }
}

/// What the handoff is made of.
pub struct Parts<'a> {
    pub session: &'a Session,
    pub reason: &'a str,
    /// Every DO of the session, oldest first.
    pub dos: &'a [DoLine],
    /// Open TODOs, top first.
    pub open: &'a [Todo],
    /// TODOs finished while the session was open, newest first.
    pub done: &'a [Todo],
    /// The chat's decisions and notes, oldest first.
    pub decisions: &'a [String],
}

/// Text cut to `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>().trim_end())
    }
}

/// What is left of the budget, in tokens.
struct Room(u64);

impl Room {
    /// Takes `line` when it fits.
    fn take(&mut self, line: &str) -> bool {
        let cost = vendor::estimate(line);
        if cost > self.0 {
            return false;
        }
        self.0 -= cost;
        true
    }

    /// Takes `line` whatever it costs (what the handoff cannot do without).
    fn force(&mut self, line: &str) {
        self.0 = self.0.saturating_sub(vendor::estimate(line));
    }
}

/// The lines of `items` that fit, in order, and how many did not.
fn fitting(room: &mut Room, items: impl Iterator<Item = String>) -> (Vec<String>, usize) {
    let mut shown = Vec::new();
    let mut left = 0;
    for line in items {
        if left == 0 && room.take(&line) {
            shown.push(line);
        } else {
            left += 1;
        }
    }
    (shown, left)
}

fn todo_line(i: usize, t: &Todo) -> String {
    let done_when = if t.acceptance.is_empty() {
        String::new()
    } else {
        format!(" — done when: {}", clip(&t.acceptance, LINE_CHARS))
    };
    format!(
        "{}. `{}` {}{done_when}\n",
        i + 1,
        t.id,
        clip(&t.title, LINE_CHARS)
    )
}

fn do_line(d: &DoLine) -> String {
    let refs: Vec<String> = d
        .artifacts
        .iter()
        .map(|(a, k)| format!("`artifact:{a}` ({k})"))
        .collect();
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!(": {}", refs.join(", "))
    };
    format!(
        "- `{}` {} — {}{refs}\n",
        d.id,
        clip(&d.title, LINE_CHARS),
        d.state
    )
}

fn done_todo_line(t: &Todo) -> String {
    let refs: Vec<String> = t.refs.iter().take(3).map(|r| format!("`{r}`")).collect();
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!(" — {}", refs.join(", "))
    };
    format!("- `{}` {}{refs}\n", t.id, clip(&t.title, LINE_CHARS))
}

/// Room kept for the section headings and the "not listed" lines.
const HEADINGS_TOKENS: u64 = 80;
/// Finished DOs listed before the lower open TODOs get their turn.
const FIRST_DOS: usize = 5;
/// DOs proposed and not run that are listed at most.
const PENDING: usize = 5;

/// The handoff text, within [`BUDGET_TOKENS`]: the goal, the top 3 open TODOs and the last
/// DO always; then, while the budget lasts, the last decisions, the 5 newest finished DOs,
/// what was left proposed, the rest of the top open TODOs, the finished TODOs, and more
/// finished DOs (newest first).
pub fn render(p: &Parts<'_>) -> String {
    let mut room = Room(BUDGET_TOKENS.saturating_sub(HEADINGS_TOKENS));
    let (head, open, last) = always(p, &mut room);
    sections(choose(p, &mut room, head, open, last))
}

/// What the handoff carries whatever it costs: the goal and what happened, the top 3 open
/// TODOs, the last DO.
fn always(p: &Parts<'_>, room: &mut Room) -> (String, Vec<String>, Option<String>) {
    let s = p.session;
    let head = format!(
        "{}The previous chat ({}, session {}) was wrapped ({}). Continue from here; do not redo finished work.\n\n",
        if s.goal.is_empty() {
            String::new()
        } else {
            format!("**Goal:** {}\n\n", clip(&s.goal, 400))
        },
        s.vendor,
        s.id,
        p.reason
    );
    room.force(&head);
    let open: Vec<String> = p
        .open
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, t)| todo_line(i, t))
        .collect();
    open.iter().for_each(|l| room.force(l));
    let last = p.dos.last().map(|d| {
        format!(
            "**Last in progress:** `{}` {} ({}).\n\n",
            d.id,
            clip(&d.title, LINE_CHARS),
            d.state
        )
    });
    if let Some(l) = &last {
        room.force(l);
    }
    (head, open, last)
}

/// The rest, in the order of what matters most, while the budget lasts.
fn choose(
    p: &Parts<'_>,
    room: &mut Room,
    head: String,
    mut open: Vec<String>,
    last: Option<String>,
) -> Sections {
    let decisions = p.decisions.len().saturating_sub(DECISIONS);
    let (decisions, _) = fitting(
        room,
        p.decisions[decisions..]
            .iter()
            .map(|d| format!("- {}\n", clip(d, LINE_CHARS))),
    );
    // Finished DOs newest first: the first few now, more once everything else is in.
    let finished: Vec<&DoLine> = p.dos.iter().rev().filter(|d| d.finished()).collect();
    let (mut done_dos, mut first_left) =
        fitting(room, finished.iter().take(FIRST_DOS).map(|d| do_line(d)));
    let pending: Vec<&DoLine> = p.dos.iter().rev().filter(|d| !d.finished()).collect();
    let (pending_lines, _) = fitting(
        room,
        pending
            .iter()
            .take(PENDING)
            .map(|d| format!("- `{}` {} ({})\n", d.id, clip(&d.title, LINE_CHARS), d.lang)),
    );
    let pending_left = pending.len() - pending_lines.len();
    let (more, _) = fitting(
        room,
        p.open
            .iter()
            .enumerate()
            .take(OPEN_TODOS)
            .skip(3)
            .map(|(i, t)| todo_line(i, t)),
    );
    open.extend(more);
    let open_left = p.open.len() - open.len();
    let (done_todos, _) = fitting(room, p.done.iter().take(DONE_TODOS).map(done_todo_line));
    let done_todos_left = p.done.len() - done_todos.len();
    if first_left == 0 {
        let (rest, _) = fitting(
            room,
            finished.iter().skip(done_dos.len()).map(|d| do_line(d)),
        );
        done_dos.extend(rest);
    }
    first_left = finished.len() - done_dos.len();
    done_dos.reverse();
    Sections {
        head,
        done_dos,
        done_dos_left: first_left,
        done_todos,
        done_todos_left,
        pending: pending_lines,
        pending_left,
        decisions,
        last,
        open,
        open_left,
    }
}

/// The handoff's lines, chosen: what [`sections`] lays out.
struct Sections {
    head: String,
    done_dos: Vec<String>,
    done_dos_left: usize,
    done_todos: Vec<String>,
    done_todos_left: usize,
    pending: Vec<String>,
    pending_left: usize,
    decisions: Vec<String>,
    last: Option<String>,
    open: Vec<String>,
    open_left: usize,
}

/// Lays the chosen lines out in reading order, open work last (closest to the reply).
fn sections(x: Sections) -> String {
    let mut t = x.head;
    let mut list = |title: &str, lines: &[String], left: Option<String>| {
        if lines.is_empty() && left.is_none() {
            return;
        }
        t.push_str(title);
        t.push('\n');
        lines.iter().for_each(|l| t.push_str(l));
        if let Some(l) = left {
            t.push_str(&format!("- {l}\n"));
        }
        t.push('\n');
    };
    list(
        "**Finished DOs** (oldest first):",
        &x.done_dos,
        (x.done_dos_left > 0).then(|| format!(
            "and {} earlier DOs, not listed: ask for one by its id and the user sends its artifacts (`coagent artifact send`)",
            x.done_dos_left
        )),
    );
    if !x.done_todos.is_empty() {
        list(
            "**Finished TODOs** (done: do not redo):",
            &x.done_todos,
            (x.done_todos_left > 0).then(|| format!("and {} more", x.done_todos_left)),
        );
    }
    list(
        "**Proposed, not run yet** (propose again if still needed):",
        &x.pending,
        (x.pending_left > 0 && !x.pending.is_empty())
            .then(|| format!("and {} older ones", x.pending_left)),
    );
    list("**Last decisions and notes:**", &x.decisions, None);
    if let Some(l) = x.last {
        t.push_str(&l);
    }
    if x.open.is_empty() {
        t.push_str("**Open TODOs:** none; ask me for the next one.\n");
    } else {
        t.push_str("**Open TODOs** (top 3 first):\n");
        x.open.iter().for_each(|l| t.push_str(l));
        if x.open_left > 0 {
            t.push_str(&format!("- and {} more, lower in rank\n", x.open_left));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::todo::TodoState;

    fn session() -> Session {
        Session {
            id: "S-1".into(),
            vendor: "claude".into(),
            goal: "Keep the project going".into(),
            state: "live".into(),
            capsule_version: "1.0.0".into(),
            capsule_sha256: "0".repeat(64),
            echo: "verified".into(),
            created_at: 0,
            live_at: None,
            closed_at: None,
            from_wrap: None,
            prev_session: None,
            last_activity_at: None,
            breach_at: None,
            breach_signal: None,
            elsewhere: false,
        }
    }

    fn todo(i: usize, status: &str) -> Todo {
        Todo {
            id: format!("T-{i:010}"),
            title: format!("Item {i}: {}", "a title that goes on and on ".repeat(8)),
            acceptance: "the checks pass and the changelog says so".into(),
            status: status.into(),
            rank: i as i64,
            created_at: 0,
            done_at: None,
            state: TodoState::Open,
            dos: Vec::new(),
            closed_by: None,
            refs: vec!["artifact:A-0000000001".into(), "notes.md".into()],
        }
    }

    fn dos(n: usize) -> Vec<DoLine> {
        (0..n)
            .map(|i| DoLine {
                id: format!("DO-{i:010}"),
                title: format!("Step {i} of the long work, checked by the project's script"),
                lang: "bash".into(),
                state: if i + 2 >= n { "proposed" } else { "acked" }.into(),
                artifacts: vec![
                    (format!("A-{i:09}L"), "log".into()),
                    (format!("A-{i:09}D"), "diff".into()),
                ],
            })
            .collect()
    }

    #[test]
    fn a_handoff_after_100_turns_stays_within_its_budget_and_counts_what_it_leaves_out() {
        let s = session();
        let open: Vec<Todo> = (0..40).map(|i| todo(i, "open")).collect();
        let done: Vec<Todo> = (40..60).map(|i| todo(i, "done")).collect();
        let decisions: Vec<String> = (0..50).map(|i| format!("note: decision {i}")).collect();
        let dos = dos(300);
        let text = render(&Parts {
            session: &s,
            reason: "dos_completed",
            dos: &dos,
            open: &open,
            done: &done,
            decisions: &decisions,
        });
        assert!(
            vendor::estimate(&text) <= BUDGET_TOKENS + 60,
            "~{} tokens:\n{text}",
            vendor::estimate(&text)
        );
        // The top 3 open TODOs, the newest finished DO and the last decision are there.
        for must in [
            "1. `T-0000000000`",
            "3. `T-0000000002`",
            "`DO-0000000297`",
            "decision 49",
        ] {
            assert!(text.contains(must), "{must}:\n{text}");
        }
        assert!(
            !text.contains("decision 44"),
            "only the last 5 decisions:\n{text}"
        );
        assert!(text.contains("earlier DOs, not listed"), "{text}");
        assert!(text.contains("more, lower in rank"), "{text}");
        // Finished DOs are listed oldest first, the newest last before the next section.
        let a = text.find("`DO-0000000296`").expect(&text);
        let b = text.find("`DO-0000000297`").expect(&text);
        assert!(a < b, "{text}");
    }

    #[test]
    fn a_short_session_is_handed_off_whole() {
        let s = session();
        let open = vec![todo(1, "open")];
        let dos = dos(4);
        let text = render(&Parts {
            session: &s,
            reason: "manual",
            dos: &dos,
            open: &open,
            done: &[],
            decisions: &["note: keep the API".to_string()],
        });
        for d in &dos {
            assert!(text.contains(&d.id), "{}:\n{text}", d.id);
        }
        assert!(!text.contains("not listed"), "{text}");
        assert!(text.contains("**Proposed, not run yet**"), "{text}");
        assert!(text.contains("- note: keep the API"), "{text}");
    }
}

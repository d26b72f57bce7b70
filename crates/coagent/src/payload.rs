//! Payloads: what the human carries from CoAgent into a chat. This module is the ONE way out
//! of the machine: [`send`] puts text through the secret guard (refuse, or redact when asked),
//! fits it to the vendor's paste limit (parts `k/n`, split between blocks and never inside a
//! code block), writes each part to `temps/outbox/` under its header line, keeps the whole in
//! the session's transcript, records it in the store, and copies part 1 to the clipboard.
//! Nothing else in CoAgent writes to the outbox or the clipboard.

use std::path::PathBuf;

use serde::Serialize;

use crate::clipboard::{ClipOutcome, Clipboard};
use crate::clock::file_stamp;
use crate::hub::Hub;
use crate::turns::Parts;
use crate::vendor::{Tokens, Vendor};
use crate::{Result, fsx, guard, store};

/// Room kept in every part for its header and its `NEXT k/n` footer.
pub const PART_OVERHEAD: usize = 400;

/// What to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub session: Option<String>,
    /// `boot`, `respawn`, `result`, `message`.
    pub kind: String,
    /// File stem under the outbox, e.g. `S-…-boot` (SPEC: `<session>-<kind>`).
    pub stem: String,
    /// The BackchatMessage id the payload carries (its header's `id=`).
    pub id: String,
    /// Rendered markdown, without the header line.
    pub text: String,
    /// Its tokens by part, for the per-turn figures.
    pub parts: Parts,
}

/// What was sent.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub id: String,
    pub kind: String,
    pub paths: Vec<PathBuf>,
    pub parts: usize,
    pub chars: usize,
    pub tokens: Tokens,
    pub redactions: usize,
    pub clipboard: ClipOutcome,
    pub warnings: Vec<String>,
}

/// The header line of a payload part.
pub fn header(id: &str, kind: &str, k: usize, n: usize, body: &str) -> String {
    format!(
        "<!-- coagent v1 id={id} kind={kind} part={k}/{n} sha256={} -->",
        fsx::sha256_hex(body.as_bytes())
    )
}

/// More to land with a payload, in the same syncs and the same transaction: the files a
/// command made (artifacts) and its records (a session, a run, a message).
#[derive(Default)]
pub struct Extra<'a> {
    pub files: Vec<(PathBuf, Vec<u8>)>,
    #[allow(clippy::type_complexity)]
    pub sql: Option<Box<dyn FnOnce(&rusqlite::Transaction<'_>) -> Result<()> + 'a>>,
}

/// Puts `out` through the guard, the vendor's limits, the outbox, the transcript, the store
/// and the clipboard. With `redact`, each guard finding is masked; without, any finding
/// refuses the whole payload and nothing is written.
pub fn send(
    hub: &mut Hub,
    vendor: &Vendor,
    out: Outgoing,
    redact: bool,
    clip: &mut dyn Clipboard,
) -> Result<Sent> {
    send_with(hub, vendor, out, redact, clip, Extra::default())
}

/// [`send`], landing `extra` with the payload: files first (one batch of syncs), then one
/// transaction for every record, so a crash leaves all of it or none of it.
pub fn send_with(
    hub: &mut Hub,
    vendor: &Vendor,
    out: Outgoing,
    redact: bool,
    clip: &mut dyn Clipboard,
    extra: Extra<'_>,
) -> Result<Sent> {
    let screened = guard::screen(
        hub,
        &out.text,
        redact,
        &format!("the {} payload", out.kind),
        out.session.as_deref(),
    )?;
    let text = screened.text;
    let budget = vendor.paste_chars.saturating_sub(PART_OVERHEAD).max(500);
    let chunks = split(&text, budget);
    let mut warnings = Vec::new();
    let n = chunks.len();
    let now = hub.now_ms();
    let mut paths = Vec::with_capacity(n);
    let mut files = Vec::with_capacity(n);
    for (i, chunk) in chunks.iter().enumerate() {
        let k = i + 1;
        let mut body = chunk.clone();
        if n > 1 {
            body.push_str(&format!("\n---\n*Part {k}/{n} of a CoAgent payload.*"));
            if k < n {
                body.push_str(&format!(
                    " Reply with exactly `NEXT {k}/{n}` and nothing else; the next part follows.\n"
                ));
            } else {
                body.push_str(" This is the last part: now follow all parts together.\n");
            }
        }
        let file = format!("{}\n{}", header(&out.id, &out.kind, k, n, &body), body);
        let name = if n > 1 {
            format!("{}-{k}-of-{n}.paste.md", out.stem)
        } else {
            format!("{}.paste.md", out.stem)
        };
        if file.chars().count() > vendor.paste_chars {
            warnings.push(format!(
                "part {k}/{n} is {} characters, over {}'s paste limit of {}: a code block longer than the limit is never split",
                file.chars().count(),
                vendor.name,
                vendor.paste_chars
            ));
        }
        paths.push(hub.outbox().join(name));
        files.push(file);
    }
    let whole: String = files.join("\n");
    let budget = match &out.session {
        Some(sid) => crate::bloat::token_budget(hub, sid, vendor, &hub.config()?.bloat)?,
        None => crate::vendor::Budget::NONE,
    };
    let tokens = vendor.count_for_session(&whole, &budget);
    let part_tokens: Vec<Tokens> = if tokens.exact {
        files.iter().map(|f| vendor.count(f)).collect()
    } else {
        files.iter().map(|f| vendor.count_cheap(f)).collect()
    };

    let mut batch = fsx::Batch::new();
    for (p, f) in paths.iter().zip(&files) {
        batch.write(p.clone(), f.as_bytes());
    }
    // The transcript keeps every part under a second name: no copy, no extra sync of data.
    if let Some(s) = &out.session {
        let dir = hub.transcripts_dir().join(s);
        for (i, p) in paths.iter().enumerate() {
            let part = if n > 1 {
                format!("-{}-of-{n}", i + 1)
            } else {
                String::new()
            };
            batch.link(
                p.clone(),
                dir.join(format!(
                    "{}-out-{}-{}{part}.md",
                    file_stamp(now),
                    out.kind,
                    out.id
                )),
            );
        }
    }
    for (p, b) in extra.files {
        batch.write(p, b);
    }
    // Files follow the store: when the records cannot be written (a busy store, a session
    // closed meanwhile), the files this call created go again. A crash in between leaves
    // them for `coagent doctor`.
    let created = batch.new_files();
    batch.commit()?;
    let forget = |e: crate::Error| {
        for p in &created {
            let _ = std::fs::remove_file(p);
        }
        e
    };

    let rel: Vec<String> = paths.iter().map(|p| hub.rel(p)).collect();
    let redactions = screened.findings;
    let extra_sql = extra.sql;
    // What the renderer could not see — header lines, `NEXT k/n` footers — is frame.
    let mut parts = out.parts;
    parts.frame += crate::vendor::estimate(&whole).saturating_sub(parts.total());
    let parts_json = serde_json::to_string(&parts).unwrap_or_default();
    hub.store.tx(|tx| {
        if let Some(f) = extra_sql {
            f(tx)?;
        }
        for (i, file) in files.iter().enumerate() {
            tx.execute(
                "INSERT OR REPLACE INTO payloads (id, session, kind, part, parts, path, sha256, chars, tokens, tokens_exact, redactions, created_at, part_tokens)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?12, ?10, ?11, ?13)",
                rusqlite::params![
                    out.id, out.session, out.kind, (i + 1) as i64, n as i64, rel[i],
                    fsx::sha256_hex(file.as_bytes()), file.chars().count() as i64,
                    part_tokens[i].count as i64, if i == 0 { redactions as i64 } else { 0 }, now,
                    part_tokens[i].exact as i64,
                    (i == 0).then_some(&parts_json)
                ],
            )?;
        }
        // A one-part payload (a result, a message) must not forget parts still being pasted.
        if let Some(s) = &out.session
            && n > 1
        {
            tx.execute(
                "UPDATE sessions SET pending_next = ?2 WHERE id = ?1",
                rusqlite::params![s, serde_json::to_string(&rel).unwrap_or_default()],
            )?;
        }
        store::event(
            tx,
            now,
            out.session.as_deref(),
            "payload.sent",
            &serde_json::json!({"id": out.id, "kind": out.kind, "parts": n, "chars": whole.chars().count(), "redactions": redactions}),
        )
    })
    .map_err(forget)?;
    let clipboard = clip.copy(&files[0]);
    Ok(Sent {
        id: out.id,
        kind: out.kind,
        paths,
        parts: n,
        chars: whole.chars().count(),
        tokens,
        redactions,
        clipboard,
        warnings,
    })
}

/// Splits markdown into chunks of at most `budget` characters, cutting only between blocks
/// (paragraphs, lists, fenced code blocks); a fenced block is never cut, even when it alone
/// is over the budget. A paragraph over the budget is cut between lines, then between chars.
pub fn split(text: &str, budget: usize) -> Vec<String> {
    if text.chars().count() <= budget {
        return vec![text.to_string()];
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    for block in blocks(text) {
        let blen = block.chars().count();
        if cur_len + blen > budget && cur_len > 0 {
            chunks.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if blen > budget
            && !block.trim_start().starts_with("```")
            && !block.trim_start().starts_with("~~~")
        {
            for piece in cut_long(&block, budget) {
                let plen = piece.chars().count();
                if cur_len + plen > budget && cur_len > 0 {
                    chunks.push(std::mem::take(&mut cur));
                    cur_len = 0;
                }
                cur.push_str(&piece);
                cur_len += plen;
            }
            continue;
        }
        cur.push_str(&block);
        cur_len += blen;
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    chunks
}

/// Blocks of markdown, each with its trailing blank lines: a fenced code block (``` or ~~~,
/// any length, closed by the same fence) is one block.
fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut fence: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        match &fence {
            Some(f) => {
                cur.push_str(line);
                if t.trim_end().starts_with(f.as_str())
                    && t.trim_end()
                        .chars()
                        .all(|c| c == f.chars().next().unwrap_or('`'))
                {
                    fence = None;
                }
            }
            None => {
                let mark = t.chars().next().filter(|c| *c == '`' || *c == '~');
                if let Some(c) = mark {
                    let run: String = t.chars().take_while(|x| *x == c).collect();
                    if run.len() >= 3 {
                        if !cur.trim().is_empty() {
                            out.push(std::mem::take(&mut cur));
                        }
                        fence = Some(run);
                        cur.push_str(line);
                        continue;
                    }
                }
                cur.push_str(line);
                if line.trim().is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn cut_long(block: &str, budget: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in block.split_inclusive('\n') {
        if line.chars().count() > budget {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            let chars: Vec<char> = line.chars().collect();
            out.extend(chars.chunks(budget).map(|c| c.iter().collect::<String>()));
            continue;
        }
        if cur.chars().count() + line.chars().count() > budget {
            out.push(std::mem::take(&mut cur));
        }
        cur.push_str(line);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Copies a part already in the outbox (`rel` to the hub) to the clipboard again — for
/// `NEXT k/n` answers — through the guard like everything else that leaves.
pub fn copy_part(hub: &mut Hub, rel: &str, clip: &mut dyn Clipboard) -> Result<ClipOutcome> {
    let path = dunce::canonicalize(hub.dir.join(rel))
        .map_err(|e| crate::Error::io(format!("cannot open {rel}"), e))?;
    let outbox = dunce::canonicalize(hub.outbox())
        .map_err(|e| crate::Error::io("cannot open the outbox", e))?;
    if !path.starts_with(outbox) {
        return Err(crate::Error::Internal(format!(
            "{rel} is not in the outbox"
        )));
    }
    let text = fsx::read_to_string(&path)?;
    let screened = guard::screen(hub, &text, false, "an outbox part", None)?;
    Ok(clip.copy(&screened.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_text_is_one_part() {
        let c = split("hello\n", 100);
        assert_eq!(c, vec!["hello\n"]);
    }

    #[test]
    fn never_cuts_inside_a_code_block() {
        let code = format!("```bash\n{}```\n\n", "echo line\n".repeat(30));
        let text = format!(
            "{}{}{}",
            "para one\n\n".repeat(20),
            code,
            "para two\n\n".repeat(20)
        );
        let chunks = split(&text, 200);
        assert!(chunks.len() > 2);
        assert_eq!(chunks.concat(), text, "nothing lost or added");
        let with_code: Vec<_> = chunks.iter().filter(|c| c.contains("```bash")).collect();
        assert_eq!(with_code.len(), 1);
        assert!(with_code[0].contains(&code), "the block stays whole");
        for c in &chunks {
            assert_eq!(
                c.matches("```").count() % 2,
                0,
                "every part has balanced fences"
            );
        }
    }

    #[test]
    fn tilde_and_long_fences_are_blocks() {
        let text = "a\n\n````md\n```bash\nx\n```\n\ny\n````\n\nb\n";
        let b = blocks(text);
        assert!(
            b.iter()
                .any(|x| x.starts_with("````md") && x.contains("\ny\n````")),
            "{b:?}"
        );
    }

    #[test]
    fn long_paragraphs_are_cut_between_lines() {
        let text = "word word word\n".repeat(100);
        let chunks = split(&text, 100);
        assert!(chunks.iter().all(|c| c.chars().count() <= 100));
        assert_eq!(chunks.concat(), text);
    }
}

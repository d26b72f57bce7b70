//! The reply parser of CoAgent: the inbound side of the paste gate (SPEC §3
//! step 4, §5).
//!
//! A person copies a chat's reply in one of two ways: with the chat's copy
//! button (markdown kept) or by selecting the rendered page (fences gone, UI
//! words such as `bash`, `Copy code`, `Edit`, `Use code with caution.` mixed
//! in, non-breaking and zero-width characters added, CRLF from Windows).
//! [`parse_reply`] reads both and reports what is there — the policy echo,
//! DO proposals, ACK lines, BackchatMessage JSON, a `NEXT k/n` answer, and
//! whether the text is one of CoAgent's own payloads pasted back. It never
//! panics, never fails, and never invents: when in doubt a thing is left out
//! and a warning says why.
//!
//! This crate owns parsing only. It must never touch the store, the
//! filesystem, git or the clipboard, and never judge what it found: the core
//! verifies the echo against the capsule, validates ACK refs and message
//! schemas, and decides what to record.
//!
//! # Decisions
//!
//! **Normalisation** (applied to the whole text, scripts included, so both
//! copies give byte-identical scripts): invalid UTF-8 is replaced by U+FFFD
//! and reported; CRLF and lone CR become LF; NBSP, narrow NBSP and the other
//! typographic spaces become a plain space; U+200B/C/D, U+2060, U+FEFF and
//! soft hyphens are removed; U+2028/U+2029 become LF; trailing spaces and tabs
//! are removed from every line (browsers add and drop them at will). Smart
//! quotes are kept everywhere: chat UIs do not smart-quote code, so changing
//! them could only break a script; protocol lines accept them as decoration.
//!
//! **DO script**: every line from `# DO: <title>` through `# END DO`
//! inclusive, joined with `\n`, ending with `\n`; in a fence, the fence's own
//! indentation is removed from each line, as CommonMark does. In the copy
//! form the DO sits in a fence (any length of backticks or tildes; an inner
//! fence shorter than or different from the outer one is content); in the
//! rendered form the `# DO:` line simply starts a line, and the label lines
//! above it are not part of the script. A `# DO:` with no `# END DO` (the
//! fence closed first, another `# DO:` began, the reply ended) is reported in
//! `incomplete_dos` and its lines are then read as ordinary lines, as the
//! other copy form would read them. In the rendered form, UI words (`Copy
//! code`, `Use code with caution.`) met before `# END DO` show that the code
//! block ended there: the DO is incomplete, as its fenced copy says.
//!
//! **Language**: the fence tag; in the rendered form the label line just
//! above (`bash`, `Bash`, `bashCopy code`, `PowerShell`, UI words skipped;
//! never across a blank line or a `Use code with caution.` footer, beyond
//! which a word such as `r` or `md` is the last line of another block);
//! otherwise a guess from a shebang or the content (python imports,
//! PowerShell cmdlets), `bash` by default, said in the DO's `lang_note`. Never
//! from a neighbouring block: a rendered copy cannot tell where one code block
//! ends and the next begins, so an untagged block after a `python` one is
//! still read for what it holds. Normalised: `shell`→`sh`,
//! `powershell`/`ps1`→`pwsh` (both with a note), `py`/`python3`→`python`;
//! `zsh` stays `zsh` (the core runs it under zsh, or maps it where zsh is
//! missing, saying so). Any other language makes the DO incomplete.
//!
//! **Examples are not proposals.** Nothing is recorded from: a fence tagged
//! `text`, `plaintext`, `txt`, `markdown` or `md` (rendered: the lines after
//! such a label, up to a blank line; a label followed by a blank line labels
//! nothing); a markdown blockquote (`>`); a DO whose
//! title holds a placeholder (`<title>`, `…`); anything right after a lead-in
//! line such as "For example:" or "It looks like this:" (until the next line
//! of prose); a mention inside a sentence. A rendered selection loses the
//! `>` of a blockquote, so a quoted example with no lead-in may be read from
//! a rendered copy; the core still rejects its unknown ids, and a DO still
//! needs the human's approval.
//!
//! **ACK line**: a line that starts, after decorations (list bullets, `>`,
//! a heading mark, bold/italic marks, backticks, quote marks), with
//! `ACK <id>` where id is `DO-`, `BC-` or `W-` and 1–26 of `[0-9A-Z]`,
//! followed only by refs. The keyword and the id are read in any case
//! (`ack do-7qs3…`): ids are Crockford base32, where `O` reads as `0` and
//! `I`/`L` as `1`. A line whose first word is `ACK` in capitals, or `ack` in
//! any case followed by an id, but that cannot be read (no id, a placeholder,
//! a word that is not a ref) is reported in `unreadable_acks`, never dropped;
//! "Ack, thanks" and the `ack` grep tool (`ack --python x`) are not ACKs. Tolerated among the refs: commas and trailing
//! punctuation, emoji and other ornaments, a `(parenthesised comment)` at the
//! end, a dash separator (`ACK DO-7 — PR #12`, after which the first non-ref
//! word starts a free comment), and markdown links, read as their text
//! because that is all a rendered copy shows. A line with any other non-ref
//! word is prose, with a warning. Refs are kept as given, hostile paths
//! included: a path is any token with `/`, `\` or `.`, or starting with `~`.
//! In ids (and `artifact:` refs) the hyphen look-alikes models write in prose
//! (U+2010, U+2011, U+2012, U+2212) read as `-`.
//!
//! **DONE line**: `DONE T-… <ref>…`, read exactly as an ACK line is (same
//! decorations, same refs, same tolerance), with a `T-` id: the chat says a
//! TODO is finished. The core judges its refs.
//!
//! **DO ↔ TODO**: a DO names the TODO it serves with a `# TODO: T-…` line among
//! the comment lines right after `# DO:` (any case, any spacing); without one,
//! a `T-…` id written in the title counts. The line stays part of the script.
//!
//! **Questions**: a line of prose ending with `?` (after decorations), not in a
//! code block, a DO, a blockquote or an example, and not a heading: the chat
//! asks the human something. At most [`question::MAX`] are kept. They are not
//! records: a rendered copy cannot tell an ordinary code block from prose.
//!
//! **Echo**: a line that is `Policy vX.Y[.Z] loaded` with an optional `.` and
//! `(hash)`; more text may follow on the same line only after a sentence end.
//! "I'll reply Policy v1.2 loaded. when ready" is not an echo. The first echo
//! is kept; a later different one is a warning.
//!
//! **BackchatMessage**: a JSON object in a fence tagged `coagent` (rendered:
//! after a `coagent` label), or in an untagged fence or bare text when it
//! holds `"coagent.backchat.v1"`; it ends where its braces balance (strings
//! respected). The text is reported as written; `MessageBlock::canonical`
//! re-serialises it with sorted keys. A `json`-tagged block is not a message.
//!
//! **NEXT k/n**: taken only when the reply is essentially that line (at most
//! three lines of content).
//!
//! **Limits of the rendered form** (what no parser can recover from a page
//! selection, written down so nobody expects it): a UI that hides a block's
//! language tag loses the language (the parser then guesses); so does the
//! second DO of one fenced block, whose tag the copy button keeps but whose
//! rendered copy cannot be told from a block of its own (its language is then
//! read from its content, with a note, in that copy only); a UI that shows
//! no words around code blocks (Claude) hides a code block broken by an inner
//! fence, which then reads as one longer DO; a blockquote's `>` is lost, so a
//! quoted example without a lead-in line reads as real; markdown headings and
//! paragraphs that the chat wrote without fences lose their `#`, so an
//! unfenced `# DO:` is only seen in the copy-button form. Soft line breaks are
//! assumed kept, as chat UIs render them.
//!
//! **Own payloads**: a header line `<!-- coagent v1 id=… kind=… -->` (or its
//! inner text, when a rendered copy dropped the comment marks) anywhere in
//! the reply sets `own_payload`: at the top when a payload was pasted back
//! instead of the reply, in the middle when the whole conversation was
//! selected. The other records are still reported; the core refuses the
//! reply. [`matches_payload`] tells a pasted-back payload without its header
//! by its content.

mod ack;
mod backchat;
mod dos;
mod echo;
mod lines;
mod normalize;
mod payload;
pub mod question;
mod scan;
mod secret_ask;
mod tag;

use std::borrow::Cow;

use serde::Serialize;

pub use ack::{AckLine, AckRef, DoneLine, UnreadableAck, normalize_id};
pub use backchat::{MessageBlock, SCHEMA as BACKCHAT_SCHEMA};
pub use dos::{DoProposal, IncompleteDo};
pub use echo::{Echo, NextPart};
pub use payload::{OwnPayload, matches_payload};
pub use question::Question;
pub use secret_ask::SecretRequest;
pub use tag::{ReplyTag, find_tag};

/// Everything found in one pasted reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply<'a> {
    /// The normalised text that was parsed; `line` fields index into it (1-based).
    /// Borrowed from the input when normalising changed nothing.
    pub text: Cow<'a, str>,
    /// The input had invalid UTF-8 (replaced by U+FFFD; see `warnings`).
    pub lossy_utf8: bool,
    /// The text is one of CoAgent's own payloads pasted back.
    pub own_payload: Option<OwnPayload>,
    pub echo: Option<Echo>,
    pub dos: Vec<DoProposal>,
    pub incomplete_dos: Vec<IncompleteDo>,
    pub acks: Vec<AckLine>,
    /// Lines that start with `ACK` but cannot be read as one.
    pub unreadable_acks: Vec<UnreadableAck>,
    /// `DONE T-… <ref>…` lines: the chat says these TODOs are finished.
    pub dones: Vec<DoneLine>,
    /// Questions the chat asks the human (advice, not records).
    pub questions: Vec<Question>,
    pub messages: Vec<MessageBlock>,
    pub next: Option<NextPart>,
    /// A `NEXT k/n` answer that says more than `NEXT k/n` (and the reply tag), or a
    /// `NEXT k/n` line inside a longer reply: the contract asks for that line alone.
    pub next_with_more: Option<NextPart>,
    /// The reply's tag (`[S-4K4E t3]`), when it ends with one.
    pub tag: Option<ReplyTag>,
    /// Prose lines in which the chat asks for a secret.
    pub secret_requests: Vec<SecretRequest>,
    /// Things a user may want to know: lossy input, ignored examples,
    /// lines that look like DONE lines but are not.
    pub warnings: Vec<String>,
}

/// What a reply says, without where it says it: equal for the copy-button
/// and the rendered-selection copy of the same reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Records {
    pub own_payload: Option<OwnPayload>,
    /// `(version, hash)`
    pub echo: Option<(String, Option<String>)>,
    /// `(title, lang, sha256)`
    pub dos: Vec<(String, String, String)>,
    /// Titles of incomplete DOs.
    pub incomplete_dos: Vec<String>,
    /// `(id, refs in canonical text form)`
    pub acks: Vec<(String, Vec<String>)>,
    /// Canonical JSON when valid, else the text.
    pub messages: Vec<String>,
    pub next: Option<NextPart>,
    /// `(TODO id, refs in canonical text form)`; left out of the JSON when empty, so
    /// the fingerprints of replies without DONE lines stay what they were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dones: Vec<(String, Vec<String>)>,
}

impl Reply<'_> {
    /// The records of this reply, independent of how it was copied.
    pub fn records(&self) -> Records {
        Records {
            own_payload: self.own_payload.clone(),
            echo: self
                .echo
                .as_ref()
                .map(|e| (e.version.clone(), e.hash.clone())),
            dos: self
                .dos
                .iter()
                .map(|d| (d.title.clone(), d.lang.clone(), d.sha256.clone()))
                .collect(),
            incomplete_dos: self
                .incomplete_dos
                .iter()
                .map(|d| d.title.clone())
                .collect(),
            acks: self
                .acks
                .iter()
                .map(|a| (a.id.clone(), a.refs.iter().map(AckRef::as_str).collect()))
                .collect(),
            messages: self
                .messages
                .iter()
                .map(|m| m.canonical().unwrap_or_else(|| m.json.clone()))
                .collect(),
            next: self.next,
            dones: self
                .dones
                .iter()
                .map(|d| (d.id.clone(), d.refs.iter().map(AckRef::as_str).collect()))
                .collect(),
        }
    }

    /// Hex sha256 of [`Reply::records`]: the same reply ingested twice, copied
    /// either way, has the same fingerprint (for the core's duplicate check).
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_string(&self.records()).unwrap_or_default();
        dos::sha256_hex(json.as_bytes())
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.own_payload.is_none()
            && self.echo.is_none()
            && self.dos.is_empty()
            && self.incomplete_dos.is_empty()
            && self.acks.is_empty()
            && self.unreadable_acks.is_empty()
            && self.dones.is_empty()
            && self.messages.is_empty()
            && self.next.is_none()
    }
}

/// True when `text` is already in the form [`parse_reply`] normalises to, so that the
/// reply's `text` would be `text` itself: work on the reply's text can then start on the
/// input before the parse ends.
pub fn is_normal(text: &str) -> bool {
    normalize::is_normal(text)
}

/// Parses a pasted reply. Never panics and never fails: invalid UTF-8 is read
/// lossily and reported in `warnings`.
pub fn parse_reply(input: &[u8]) -> Reply<'_> {
    let decoded = normalize::decode(input);
    let text = match decoded.text {
        Cow::Borrowed(s) => normalize::normalize(s),
        Cow::Owned(s) => {
            let changed = match normalize::normalize(&s) {
                Cow::Owned(n) => Some(n),
                Cow::Borrowed(_) => None,
            };
            Cow::Owned(changed.unwrap_or(s))
        }
    };
    let found = scan::scan(&text);
    let mut warnings = Vec::new();
    if decoded.invalid_sequences > 0 {
        warnings.push(format!(
            "the input is not valid UTF-8: {} invalid sequence(s) replaced with U+FFFD",
            decoded.invalid_sequences
        ));
    }
    warnings.extend(found.warnings);
    let tag = find_tag(&text);
    let tag_lines = usize::from(tag.as_ref().is_some_and(|t| t.alone));
    let next_with_more = match found.next {
        Some(n) if found.content_lines > 1 + tag_lines => Some(n),
        Some(_) => None,
        None => found.next_in_longer,
    };
    Reply {
        next_with_more,
        tag,
        secret_requests: found.secret_requests,
        text,
        lossy_utf8: decoded.invalid_sequences > 0,
        own_payload: found.own_payload,
        echo: found.echo,
        dos: found.dos,
        incomplete_dos: found.incomplete,
        acks: found.acks,
        unreadable_acks: found.unreadable_acks,
        dones: found.dones,
        questions: found.questions,
        messages: found.messages,
        next: found.next,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_k_of_n_with_more_than_that_line_is_reported() {
        let alone = parse_reply(b"NEXT 1/2\n\n[S-4K4E t2]\n");
        assert_eq!(alone.next, Some(NextPart { k: 1, n: 2 }));
        assert_eq!(alone.next_with_more, None, "the tag line is allowed");
        let chatty = parse_reply(b"NEXT 1/2\nGot it, waiting.\n");
        assert_eq!(chatty.next, Some(NextPart { k: 1, n: 2 }));
        assert_eq!(chatty.next_with_more, Some(NextPart { k: 1, n: 2 }));
        let long = parse_reply(b"NEXT 1/2\n\nHere is my plan.\n\nFirst this.\n\nThen that.\n");
        assert_eq!(long.next, None);
        assert_eq!(long.next_with_more, Some(NextPart { k: 1, n: 2 }));
    }

    #[test]
    fn a_request_for_a_secret_in_prose_is_reported_but_not_in_code() {
        let r = parse_reply(
            b"To push I need access.\nPlease paste your GitHub token here.\n\n```bash\n# DO: Login\nread -p 'paste your token' T\n# END DO\n```\n",
        );
        assert_eq!(r.secret_requests.len(), 1, "{:?}", r.secret_requests);
        assert_eq!(r.secret_requests[0].line, 2);
    }

    #[test]
    fn a_long_reply_is_read_for_requests_at_its_start_and_end() {
        let filler = "The importer reads each row and checks the schema.\n".repeat(2_000);
        let ask = "Please paste your API key here.\n";
        let text = format!("{ask}{filler}{ask}{filler}{ask}");
        let lines: Vec<usize> = parse_reply(text.as_bytes())
            .secret_requests
            .iter()
            .map(|q| q.line)
            .collect();
        assert_eq!(
            lines,
            [1, 4003],
            "the first and the last, not the middle one"
        );
    }
}

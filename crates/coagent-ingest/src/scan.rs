//! The line scanner: one pass over the normalised text that finds DO blocks,
//! protocol lines and BackchatMessage blocks, in either copy form.
//!
//! Owns: the state that spans lines (open fence, open DO, example region,
//! the last prose line). Must never decide anything from a line alone that a
//! rendered copy of the same reply would decide differently: every rule here
//! is written so that the fence-kept and the fence-lost copies agree.

use std::cell::Cell;

use crate::ack::{self, AckLine, AckParse, DoneLine, UnreadableAck};
use crate::backchat::{self, Braces, MessageBlock};
use crate::dos::{self, DoProposal, IncompleteDo};
use crate::echo::{self, Echo, NextPart};
use crate::lines::{self, Chrome, Fence};
use crate::payload::{self, OwnPayload};
use crate::question::{self, Question};

/// What the scan found; [`crate::parse_reply`] wraps it into a `Reply`.
#[derive(Default)]
pub(crate) struct Found {
    pub echo: Option<Echo>,
    pub dos: Vec<DoProposal>,
    pub incomplete: Vec<IncompleteDo>,
    pub acks: Vec<AckLine>,
    pub unreadable_acks: Vec<UnreadableAck>,
    pub dones: Vec<DoneLine>,
    pub questions: Vec<Question>,
    pub messages: Vec<MessageBlock>,
    pub next: Option<NextPart>,
    /// A `NEXT k/n` line in a reply that says more than that.
    pub next_in_longer: Option<NextPart>,
    /// Non-blank lines, UI words aside.
    pub content_lines: usize,
    pub secret_requests: Vec<crate::secret_ask::SecretRequest>,
    pub own_payload: Option<OwnPayload>,
    pub warnings: Vec<String>,
}

/// How a DO's language is decided.
enum LangFrom {
    /// A fence tag or a rendered label, not yet normalised.
    Named(String),
    /// Nothing names it: guess from the script (never from a neighbouring block: a
    /// rendered copy cannot tell where one code block ends and the next begins).
    Infer,
}

struct Capture {
    title: String,
    /// 0-based line of `# DO:`.
    start: usize,
    lang: LangFrom,
    /// An example (template, quoted, labelled `text`/`markdown`, announced by
    /// "for example:"): consumed so its lines are not read as records, then
    /// dropped.
    example: bool,
    script: String,
    /// The fence the DO sits in, as it was at the `# DO:` line, and the
    /// content count then: an incomplete DO's lines are read again as
    /// ordinary lines from there, as the other copy form reads them.
    fence_at_start: Option<OpenFence>,
    content_at_start: usize,
}

#[derive(Clone)]
struct OpenFence {
    f: Fence,
    example: bool,
    /// Label found before an untagged fence (a line such as `bash`).
    label: Option<String>,
    seen_text: bool,
}

/// A rendered code block labelled `text`/`markdown`: runs until a blank line
/// (blank lines inside a fence within it do not count). A blank line right
/// under the label ends it at once: a label heads its block directly, so a
/// `md` followed by a blank line was the last line of some other code block,
/// and the lines after it are read as the fenced copy reads them.
struct Region {
    inner: Option<Fence>,
}

struct Scanner<'t> {
    lines: Vec<&'t str>,
    /// Lines not read for requests for a secret: those between the reply's first and last
    /// [`secret_ask::WINDOW`] bytes (a chat asks early or late; a 1 MiB reply is not
    /// paid for in full).
    asks_skipped: std::ops::Range<usize>,
    found: Found,
    fence: Option<OpenFence>,
    capture: Option<Capture>,
    region: Option<Region>,
    /// Last line read as plain prose (or plain code); decides lead-ins.
    last_prose: Option<usize>,
    /// Whether that line is a lead-in, once asked.
    lead_in_cache: Cell<Option<(usize, bool)>>,
    /// Last line index holding `# END DO` anywhere in the text.
    last_end_line: Option<usize>,
    /// Lines holding the BackchatMessage schema name, ascending.
    schema_lines: Vec<usize>,
    /// JSON starts before this line are not tried again (keeps scans linear).
    json_watermark: usize,
    content_lines: usize,
    next_candidates: Vec<(usize, NextPart)>,
}

pub(crate) fn scan(text: &str) -> Found {
    let mut lines = Vec::with_capacity(text.len() / 40 + 1);
    let mut starts = Vec::with_capacity(text.len() / 40 + 1);
    let mut pos = 0;
    for nl in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push(&text[pos..nl]);
        starts.push(pos);
        pos = nl + 1;
    }
    lines.push(&text[pos..]);
    starts.push(pos);
    let schema_lines = memchr::memmem::find_iter(text.as_bytes(), backchat::SCHEMA)
        .map(|off| starts.partition_point(|&s| s <= off).saturating_sub(1))
        .collect();
    let last_end_line = lines.iter().rposition(|l| lines::is_do_end(l));
    let window = crate::secret_ask::WINDOW;
    let asks_skipped = starts.partition_point(|&s| s < window)
        ..starts.partition_point(|&s| s + window < text.len());
    let mut s = Scanner {
        lines,
        asks_skipped,
        found: Found::default(),
        fence: None,
        capture: None,
        region: None,
        last_prose: None,
        lead_in_cache: Cell::new(None),
        last_end_line,
        schema_lines,
        json_watermark: 0,
        content_lines: 0,
        next_candidates: Vec::new(),
    };
    let mut i = 0;
    loop {
        while i < s.lines.len() {
            i = s.step(i);
        }
        match s.abandon_do("the reply ended before `# END DO`") {
            Some(r) => i = r,
            None => break,
        }
    }
    s.finish();
    s.found
}

impl<'t> Scanner<'t> {
    fn warn(&mut self, w: String) {
        self.found.warnings.push(w);
    }

    fn step(&mut self, i: usize) -> usize {
        let line = self.lines[i];
        if self.fence.is_some() {
            return self.fenced_line(i, line);
        }
        if self.capture.is_some() {
            if lines::is_do_end(line) {
                self.finish_do(line);
                return i + 1;
            }
            let reason = if lines::is_ui_marker(line) {
                // The rendered code block ended (its UI words follow it)
                // before `# END DO`: the fenced copy would say the same.
                "its code block ended before `# END DO`"
            } else if lines::do_start(line).is_some() {
                "a new `# DO:` began before `# END DO`"
            } else {
                self.count(line);
                if let Some(c) = &mut self.capture {
                    c.script.push_str(line);
                    c.script.push('\n');
                }
                return i + 1;
            };
            if let Some(r) = self.abandon_do(reason) {
                return r;
            }
        }
        if self.region.is_some() {
            return self.region_line(i, line);
        }
        self.plain_line(i, line)
    }

    fn count(&mut self, content: &str) {
        if !lines::is_blank(content) {
            self.content_lines += 1;
        }
    }

    /// A line outside any fence, DO or example region.
    fn plain_line(&mut self, i: usize, line: &str) -> usize {
        let t = line.trim_start();
        let Some(&first) = t.as_bytes().first() else {
            return i + 1;
        };
        if (first == b'`' || first == b'~')
            && let Some(f) = lines::fence_open(line)
        {
            let example = lines::is_example_lang(&f.tag);
            let label = if f.tag.is_empty() {
                self.lookback_label(i)
            } else {
                None
            };
            let example = example || label.as_deref().is_some_and(lines::is_example_lang);
            self.fence = Some(OpenFence {
                f,
                example,
                label,
                seen_text: false,
            });
            return i + 1;
        }
        if first == b'#'
            && let Some(title) = lines::do_start(line)
        {
            self.count(line);
            let (lang, example) = match self.lookback_label(i) {
                Some(l) => {
                    let ex = lines::is_example_lang(&l);
                    (LangFrom::Named(l), ex)
                }
                None => (LangFrom::Infer, false),
            };
            self.start_do(i, title, lang, example, false, line);
            return i + 1;
        }
        if first == b'{' {
            let ctx = self.lookback_label(i).unwrap_or_default();
            if let Some(next) = self.try_json(i, &ctx, None) {
                return next;
            }
        }
        match lines::chrome(line) {
            Some(Chrome::Ui) => return i + 1,
            Some(Chrome::Lang(l)) => {
                if lines::is_example_lang(&l) {
                    self.region = Some(Region { inner: None });
                }
                return i + 1;
            }
            None => {}
        }
        self.count(line);
        self.prose_line(i, line);
        i + 1
    }

    fn fenced_line(&mut self, i: usize, line: &str) -> usize {
        let Some(of) = &mut self.fence else {
            return i + 1;
        };
        if lines::fence_closes(line, &of.f) {
            self.fence = None;
            if let Some(r) = self.abandon_do("its code block closed before `# END DO`") {
                return r;
            }
            return i + 1;
        }
        let content = lines::strip_indent(line, of.f.indent);
        let first_text = !of.seen_text && !lines::is_blank(content);
        if first_text {
            of.seen_text = true;
        }
        if of.example {
            self.count(content);
            return i + 1;
        }
        if self.capture.is_some() {
            if lines::is_do_end(content) {
                self.finish_do(content);
                return i + 1;
            }
            if lines::do_start(content).is_none() {
                self.count(content);
                if let Some(c) = &mut self.capture {
                    c.script.push_str(content);
                    c.script.push('\n');
                }
                return i + 1;
            }
            if let Some(r) = self.abandon_do("a new `# DO:` began before `# END DO`") {
                return r;
            }
        }
        self.count(content);
        let Some(of) = &self.fence else {
            return i + 1;
        };
        if let Some(title) = lines::do_start(content) {
            let (tag, label) = (of.f.tag.clone(), of.label.clone());
            let (lang, example) = if !tag.is_empty() {
                (LangFrom::Named(tag), false)
            } else if !first_text {
                (LangFrom::Infer, false)
            } else if let Some(l) = label {
                let ex = lines::is_example_lang(&l);
                (LangFrom::Named(l), ex)
            } else {
                (LangFrom::Infer, false)
            };
            self.start_do(i, title, lang, example, true, content);
            return i + 1;
        }
        if content.trim_start().starts_with('{') {
            let ctx = if of.f.tag.is_empty() {
                of.label.clone().unwrap_or_default()
            } else {
                of.f.tag.clone()
            };
            let f = of.f.clone();
            if let Some(next) = self.try_json(i, &ctx, Some(&f)) {
                return next;
            }
        }
        self.prose_line(i, content);
        i + 1
    }

    fn region_line(&mut self, i: usize, line: &str) -> usize {
        let Some(r) = &mut self.region else {
            return i + 1;
        };
        if let Some(inner) = &r.inner {
            if lines::fence_closes(line, inner) {
                r.inner = None;
            }
            self.count(line);
            return i + 1;
        }
        if lines::is_blank(line) {
            self.region = None;
            return i + 1;
        }
        if let Some(f) = lines::fence_open(line) {
            r.inner = Some(f);
        } else if let Some(title) = lines::do_start(line) {
            self.start_do(i, title, LangFrom::Infer, true, false, line);
        }
        self.count(line);
        i + 1
    }

    /// The language label a rendered copy shows just above line `i`:
    /// skips UI words, stops at the first other line.
    ///
    /// A label heads its block with nothing between them but UI words, so a
    /// blank line or a block footer ends the search: what lies beyond it is
    /// the end of something else, such as the last line of the previous code
    /// block (`r`, `go`, `make` read like labels). The fenced copy of the same
    /// reply has no label there, so taking one would make the two disagree.
    fn lookback_label(&self, i: usize) -> Option<String> {
        let mut j = i;
        let mut steps = 0;
        while j > 0 && steps < 6 {
            j -= 1;
            steps += 1;
            let l = self.lines[j];
            if lines::is_blank(l) || lines::is_block_footer(l) {
                return None;
            }
            match lines::chrome(l) {
                Some(Chrome::Ui) => continue,
                Some(Chrome::Lang(lang)) => return Some(lang),
                None => return None,
            }
        }
        None
    }

    fn lead_in_active(&self) -> bool {
        let Some(j) = self.last_prose else {
            return false;
        };
        if let Some((k, v)) = self.lead_in_cache.get()
            && k == j
        {
            return v;
        }
        let v = lines::is_lead_in(self.lines[j]);
        self.lead_in_cache.set(Some((j, v)));
        v
    }

    fn start_do(
        &mut self,
        i: usize,
        title: &str,
        lang: LangFrom,
        example: bool,
        fenced: bool,
        first_line: &str,
    ) {
        let example = example || lines::is_placeholder_title(title) || self.lead_in_active();
        if !fenced && self.last_end_line.is_none_or(|e| e <= i) {
            // No `# END DO` anywhere below: nothing to capture, and the lines
            // below are read normally, as the fenced copy would read them.
            if !example {
                self.found.incomplete.push(IncompleteDo {
                    title: title.to_string(),
                    line: i + 1,
                    reason: "no `# END DO` follows".into(),
                });
            }
            return;
        }
        let mut script = String::with_capacity(256);
        script.push_str(first_line);
        script.push('\n');
        self.capture = Some(Capture {
            title: title.to_string(),
            start: i,
            lang,
            example,
            script,
            fence_at_start: self.fence.clone(),
            content_at_start: self.content_lines,
        });
    }

    /// Ends an open DO without `# END DO`. Returns the line to read next
    /// (the one after `# DO:`, in the fence state of then) unless the DO was
    /// an example, whose lines stay skipped.
    fn abandon_do(&mut self, reason: &str) -> Option<usize> {
        let c = self.capture.take()?;
        if c.example {
            return None;
        }
        self.found.incomplete.push(IncompleteDo {
            title: c.title,
            line: c.start + 1,
            reason: reason.to_string(),
        });
        self.fence = c.fence_at_start;
        self.content_lines = c.content_at_start;
        Some(c.start + 1)
    }

    fn finish_do(&mut self, end_line: &str) {
        let Some(mut c) = self.capture.take() else {
            return;
        };
        self.count(end_line);
        c.script.push_str(end_line);
        c.script.push('\n');
        if c.example {
            self.warn(format!(
                "line {}: example DO `{}` (a template or quoted example) not recorded",
                c.start + 1,
                c.title
            ));
            return;
        }
        let incomplete = |reason: String| IncompleteDo {
            title: c.title.clone(),
            line: c.start + 1,
            reason,
        };
        if c.title.is_empty() {
            self.found
                .incomplete
                .push(incomplete("the `# DO:` line has no title".into()));
            return;
        }
        let (lang, lang_note) = match &c.lang {
            LangFrom::Named(n) => match lines::runnable_lang(n) {
                Some(l) => (l, lines::lang_mapping_note(n, l)),
                None => {
                    self.found.incomplete.push(incomplete(format!(
                        "unsupported language `{n}` (CoAgent runs bash, sh, python and pwsh)"
                    )));
                    return;
                }
            },
            LangFrom::Infer => {
                let (l, why) = dos::infer_lang(&c.script);
                (l, Some(format!("no language tag: {l}, {why}")))
            }
        };
        if c.script.contains('\u{FFFD}') {
            self.warn(format!(
                "line {}: DO `{}` contains bytes that were not valid UTF-8 (shown as U+FFFD)",
                c.start + 1,
                c.title
            ));
        }
        let sha256 = dos::sha256_hex(c.script.as_bytes());
        let todo = dos::todo_of(&c.title, &c.script);
        self.found.dos.push(DoProposal {
            todo,
            title: c.title,
            lang: lang.to_string(),
            lang_note,
            script: c.script,
            sha256,
            line: c.start + 1,
        });
    }

    /// Tries a BackchatMessage JSON object starting on line `i`. Returns the
    /// line to continue from when the object was consumed.
    fn try_json(&mut self, i: usize, ctx: &str, fence: Option<&Fence>) -> Option<usize> {
        if i < self.json_watermark {
            return None;
        }
        let tagged = ctx == "coagent";
        if !tagged && (!ctx.is_empty() || self.schema_lines.last().is_none_or(|&l| l < i)) {
            return None;
        }
        let indent = fence.map_or(0, |f| f.indent);
        let mut braces = Braces::default();
        let mut end = None;
        let mut last = i;
        for j in i..self.lines.len() {
            let raw = self.lines[j];
            if j > i && fence.is_some_and(|f| lines::fence_closes(raw, f)) {
                break;
            }
            last = j;
            let content = lines::strip_indent(raw, indent);
            let from = if j == i {
                content.find('{').unwrap_or(0)
            } else {
                0
            };
            if let Some(off) = braces.feed(&content[from..]) {
                end = Some((j, from + off));
                break;
            }
        }
        let Some((e, off)) = end else {
            self.json_watermark = last + 1;
            if tagged {
                self.warn(format!(
                    "line {}: the braces of a `coagent` block never balance; not recorded",
                    i + 1
                ));
            }
            return None;
        };
        let mut json = String::new();
        for j in i..=e {
            let content = lines::strip_indent(self.lines[j], indent);
            let from = if j == i {
                content.find('{').unwrap_or(0)
            } else {
                0
            };
            let to = if j == e { off } else { content.len() };
            json.push_str(content.get(from..to).unwrap_or(""));
            if j != e {
                json.push('\n');
            }
        }
        if !tagged && !json.contains(backchat::SCHEMA) {
            self.json_watermark = e + 1;
            return None;
        }
        for j in i..=e {
            let l = self.lines[j];
            self.count(l);
        }
        if self.lead_in_active() {
            self.warn(format!(
                "line {}: example BackchatMessage not recorded",
                i + 1
            ));
            return Some(e + 1);
        }
        self.found.messages.push(MessageBlock {
            json,
            line: i + 1,
            fenced: fence.is_some(),
        });
        Some(e + 1)
    }

    /// A line of prose (or of an ordinary code block): protocol lines live here.
    fn prose_line(&mut self, i: usize, line: &str) {
        let c = lines::core(line);
        let Some(&first) = c.text.as_bytes().first() else {
            return;
        };
        // Computed only for the rare line that is a record.
        let example = |s: &Self| c.quoted || s.lead_in_active();
        match first {
            b'A' | b'a' => match ack::parse(c.text) {
                AckParse::Yes { id, refs } => {
                    if !example(self) {
                        self.found.acks.push(AckLine {
                            id,
                            refs,
                            line: i + 1,
                            raw: line.trim().to_string(),
                        });
                    }
                    return;
                }
                AckParse::Malformed(reason) => {
                    if !example(self) {
                        self.found.unreadable_acks.push(UnreadableAck {
                            line: i + 1,
                            text: line.trim().chars().take(200).collect(),
                            reason,
                        });
                    }
                    return;
                }
                AckParse::No => {}
            },
            b'D' => match ack::parse_done(c.text) {
                AckParse::Yes { id, refs } => {
                    if !example(self) {
                        self.found.dones.push(DoneLine {
                            id,
                            refs,
                            line: i + 1,
                        });
                    }
                    return;
                }
                AckParse::Malformed(m) => {
                    if !example(self) {
                        let text: String = c.text.chars().take(120).collect();
                        self.warn(format!(
                            "line {}: `{text}` starts like a DONE line, but {m}; not recorded",
                            i + 1
                        ));
                    }
                    return;
                }
                AckParse::No => {}
            },
            b'P' | b'p' => {
                if let Some((version, hash)) = echo::parse_echo(c.text) {
                    if !example(self) {
                        self.record_echo(i, version, hash);
                    }
                    return;
                }
            }
            b'N' => {
                if let Some(n) = echo::parse_next(c.text) {
                    if !example(self) {
                        self.next_candidates.push((i, n));
                    }
                    return;
                }
            }
            b'<' | b'c' if self.found.own_payload.is_none() => {
                if let Some(p) = payload::parse_header(c.text) {
                    self.found.own_payload = Some(p);
                    return;
                }
            }
            _ => {}
        }
        if self.fence.is_none()
            && !line.trim_start().starts_with('#')
            && !example(self)
            && !self.asks_skipped.contains(&i)
        {
            self.secret_request(i, c.text);
        }
        // A question to the human: prose only, so not in a code block, a quote, an
        // example or a heading.
        if c.text.contains('?')
            && self.fence.is_none()
            && !line.trim_start().starts_with('#')
            && !example(self)
            && let Some(text) = question::parse(c.text)
        {
            if self.found.questions.len() < question::MAX {
                self.found.questions.push(Question { line: i + 1, text });
            } else if self.found.questions.len() == question::MAX {
                self.warn(format!(
                    "line {}: more than {} questions; only the first {} are listed",
                    i + 1,
                    question::MAX,
                    question::MAX
                ));
            }
        }
        self.last_prose = Some(i);
    }

    /// A prose line asking for a secret (the contract forbids it).
    fn secret_request(&mut self, i: usize, core: &str) {
        if self.found.secret_requests.len() < question::MAX
            && let Some(text) = crate::secret_ask::parse(core)
        {
            self.found
                .secret_requests
                .push(crate::secret_ask::SecretRequest { line: i + 1, text });
        }
    }

    fn record_echo(&mut self, i: usize, version: String, hash: Option<String>) {
        match &self.found.echo {
            None => {
                self.found.echo = Some(Echo {
                    version,
                    hash,
                    line: i + 1,
                });
            }
            Some(e) if e.version != version => {
                let w = format!(
                    "line {}: a second echo says v{version}; the first (line {}, v{}) is kept",
                    i + 1,
                    e.line,
                    e.version
                );
                self.warn(w);
            }
            Some(_) => {}
        }
    }

    fn finish(&mut self) {
        self.found.content_lines = self.content_lines;
        if let Some(&(i, n)) = self.next_candidates.first() {
            // A NEXT answer is the whole reply; in a longer reply it is a
            // mention, not an answer.
            if self.content_lines <= 3 {
                self.found.next = Some(n);
            } else {
                self.found.next_in_longer = Some(n);
                self.warn(format!(
                    "line {}: `NEXT {}/{}` inside a longer reply is not taken as a split-payload answer",
                    i + 1,
                    n.k,
                    n.n
                ));
            }
        }
    }
}

//! Test helper: turns a copy-button reply (markdown) into what selecting the
//! rendered page of a given vendor's chat UI and copying it yields: fences
//! gone, the vendor's label lines around code blocks, markdown marks gone
//! from prose, and the noise browsers add (NBSP, zero-width characters,
//! trailing spaces, CRLF).
#![allow(dead_code)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    ChatGpt,
    Claude,
    Gemini,
    Copilot,
    Generic,
}

impl Vendor {
    pub const ALL: [Vendor; 5] = [
        Vendor::ChatGpt,
        Vendor::Claude,
        Vendor::Gemini,
        Vendor::Copilot,
        Vendor::Generic,
    ];

    pub fn from_dir(name: &str) -> Vendor {
        match name {
            "chatgpt" => Vendor::ChatGpt,
            "claude" => Vendor::Claude,
            "gemini" => Vendor::Gemini,
            "copilot" => Vendor::Copilot,
            _ => Vendor::Generic,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Noise {
    pub crlf: bool,
    pub nbsp: bool,
    pub zero_width: bool,
    pub trailing_spaces: bool,
    pub seed: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, good enough to sprinkle noise.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

struct Fence {
    ch: char,
    len: usize,
    indent: usize,
    tag: String,
}

fn fence_open(line: &str) -> Option<Fence> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let ch = rest.chars().next()?;
    if ch != '`' && ch != '~' {
        return None;
    }
    let len = rest.chars().take_while(|&c| c == ch).count();
    if len < 3 {
        return None;
    }
    let info = rest[len..].trim();
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some(Fence {
        ch,
        len,
        indent,
        tag: info.split_whitespace().next().unwrap_or("").to_string(),
    })
}

fn closes(line: &str, f: &Fence) -> bool {
    let t = line.trim_start_matches(' ');
    let n = t.chars().take_while(|&c| c == f.ch).count();
    n >= f.len && t[n * f.ch.len_utf8()..].trim().is_empty()
}

fn gemini_name(tag: &str) -> String {
    match tag {
        "powershell" | "pwsh" => "PowerShell".into(),
        "json" => "JSON".into(),
        "sh" | "shell" => "Shell".into(),
        t => {
            let mut c = t.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        }
    }
}

fn header(vendor: Vendor, tag: &str, rng: &mut Rng) -> Vec<String> {
    match (vendor, tag.is_empty()) {
        (Vendor::ChatGpt, false) if rng.one_in(3) => vec![format!("{tag}Copy code")],
        (Vendor::ChatGpt, false) => vec![tag.to_string(), "Copy code".into()],
        (Vendor::ChatGpt, true) => vec!["Copy code".into()],
        // A UI that hid a block's tag would lose its language for good: the
        // parser could only guess. Generic UIs show the tag as Claude does.
        (Vendor::Claude | Vendor::Generic, false) => vec![tag.to_string()],
        (Vendor::Claude | Vendor::Generic, true) => vec![],
        (Vendor::Gemini, false) => vec![gemini_name(tag)],
        (Vendor::Gemini, true) => vec![],
        (Vendor::Copilot, false) => vec![tag.to_string(), "Copy".into()],
        (Vendor::Copilot, true) => vec!["Copy".into()],
    }
}

fn footer(vendor: Vendor) -> Vec<String> {
    match vendor {
        Vendor::Gemini => vec!["Use code with caution.".into()],
        _ => vec![],
    }
}

/// Renders one line of markdown prose as a browser would copy it.
fn prose(line: &str) -> Option<String> {
    let mut s = line.trim_start();
    if s.starts_with("<!--") && s.ends_with("-->") {
        return None;
    }
    if matches!(s, "---" | "***" | "___") {
        return Some(String::new());
    }
    let hashes = s.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) && s[hashes..].starts_with(' ') {
        s = s[hashes..].trim_start();
    }
    for b in ["- ", "* ", "+ "] {
        if let Some(r) = s.strip_prefix(b) {
            s = r;
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && s[digits..].starts_with(". ") {
        s = &s[digits + 2..];
    }
    let mut out = s.replace("**", "").replace("__", "").replace('`', "");
    // [text](url) -> text
    while let Some(open) = out.find('[') {
        let Some(mid) = out[open..].find("](") else {
            break;
        };
        let Some(close) = out[open + mid..].find(')') else {
            break;
        };
        let text = out[open + 1..open + mid].to_string();
        out.replace_range(open..open + mid + close + 1, &text);
    }
    Some(out)
}

fn sprinkle(line: &str, noise: &Noise, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    for ch in line.chars() {
        if noise.zero_width && rng.one_in(23) {
            out.push(
                ['\u{200B}', '\u{200C}', '\u{200D}', '\u{FEFF}', '\u{2060}']
                    [(rng.next() % 5) as usize],
            );
        }
        if ch == ' ' && noise.nbsp && rng.one_in(5) {
            out.push('\u{00A0}');
        } else {
            out.push(ch);
        }
    }
    if noise.trailing_spaces && rng.one_in(4) {
        out.push_str(if rng.one_in(2) { "  " } else { "\u{00A0}" });
    }
    out
}

/// The rendered-selection copy of a copy-button reply.
pub fn render(copy: &str, vendor: Vendor, noise: &Noise) -> String {
    let mut rng = Rng(noise.seed | 1);
    let mut out: Vec<String> = Vec::new();
    let mut fence: Option<Fence> = None;
    let copy = copy.replace("\r\n", "\n");
    for raw in copy.split('\n') {
        // A blockquote's marks vanish; its content renders like any other.
        let mut line = raw;
        loop {
            let t = line.trim_start();
            match t.strip_prefix('>') {
                Some(r) if fence.is_none() || raw.trim_start().starts_with('>') => {
                    line = r.strip_prefix(' ').unwrap_or(r);
                }
                _ => break,
            }
            if !line.trim_start().starts_with('>') {
                break;
            }
        }
        if let Some(f) = &fence {
            if closes(line, f) {
                out.extend(footer(vendor));
                fence = None;
            } else {
                let k = line.len() - line.trim_start_matches(' ').len();
                out.push(line[k.min(f.indent)..].to_string());
            }
            continue;
        }
        if let Some(f) = fence_open(line) {
            out.extend(header(vendor, &f.tag, &mut rng));
            fence = Some(f);
            continue;
        }
        if let Some(p) = prose(line) {
            out.push(p);
        }
    }
    let eol = if noise.crlf { "\r\n" } else { "\n" };
    out.iter()
        .map(|l| sprinkle(l, noise, &mut rng))
        .collect::<Vec<_>>()
        .join(eol)
}

/// Only the browser noise, for text that a UI shows as typed (a user's own
/// message, such as a payload pasted back).
pub fn noise_only(text: &str, noise: &Noise) -> String {
    let mut rng = Rng(noise.seed | 1);
    let eol = if noise.crlf { "\r\n" } else { "\n" };
    text.replace("\r\n", "\n")
        .split('\n')
        .map(|l| sprinkle(l, noise, &mut rng))
        .collect::<Vec<_>>()
        .join(eol)
}

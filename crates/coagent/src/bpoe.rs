//! The BPOE contract: the working rules pasted with the capsule. It tells the chat, briefly,
//! the formats of the paste gate: the exact echo line, DO blocks with their `# DO:` /
//! `# END DO` sentinels and a language tag, ACK lines, split payloads, and that it must ask
//! for artifacts, never for secrets. Every token of it is paid on every boot, so it stays short.

use crate::Result;
use crate::template::Templates;

/// The contract for a session whose capsule answers with `echo` and whose replies are
/// tagged with `tag` (the session's short id, see [`crate::drift::tag_line`]).
pub fn render(templates: &Templates, echo: &str, tag: &str) -> Result<String> {
    templates.render("bpoe.md", serde_json::json!({ "echo": echo, "tag": tag }))
}

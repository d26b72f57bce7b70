//! Prints what `coagent_ingest::parse_reply` finds in a file (or stdin) as
//! JSON, without the normalised text: `cargo run -p coagent-ingest --example
//! parse -- reply.md`.
#![allow(clippy::print_stdout)]

use std::io::Read;

fn main() -> std::io::Result<()> {
    let mut input = Vec::new();
    match std::env::args().nth(1).as_deref() {
        None | Some("-") => {
            std::io::stdin().read_to_end(&mut input)?;
        }
        Some(path) => input = std::fs::read(path)?,
    }
    let mut reply = coagent_ingest::parse_reply(&input);
    reply.text = format!("<{} bytes>", reply.text.len()).into();
    let json = serde_json::to_string_pretty(&reply).map_err(std::io::Error::other)?;
    println!("{json}");
    Ok(())
}

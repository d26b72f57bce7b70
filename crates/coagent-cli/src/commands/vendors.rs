//! `coagent vendors`: the profiles in force.

use std::process::ExitCode;

use crate::app::App;
use crate::out;

pub fn run(app: &App) -> anyhow::Result<ExitCode> {
    // Works outside a hub too: then only the built-ins apply.
    let cfg = match app.hub_unchecked() {
        Ok(h) => h.config()?,
        Err(_) => coagent::config::Config::default(),
    };
    let vendors = coagent::vendor::all(&cfg)?;
    out::emit(app.json(), &serde_json::json!({"vendors": vendors}), || {
        let mut s = format!(
            "{:<10} {:>14} {:>16} {:>12}  {:<12} {}\n",
            "vendor", "context", "budget warn/fail", "paste", "tokens", ""
        );
        for v in &vendors {
            let tok = match v.tokenizer {
                coagent::vendor::Tokenizer::O200kBase => "o200k_base",
                coagent::vendor::Tokenizer::Estimate => "~estimate",
            };
            s.push_str(&format!(
                "{:<10} {:>14} {:>16} {:>12}  {:<12} {}{}\n",
                v.name,
                format!("{} tok", v.context_tokens),
                format!(
                    "{}/{}",
                    coagent::bloat::kilo(v.budget_warn_tokens),
                    coagent::bloat::kilo(v.budget_breach_tokens)
                ),
                format!("{} ch", v.paste_chars),
                tok,
                v.display,
                if v.overridden { " (config.toml)" } else { "" }
            ));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}

//! The page's HTML: minijinja templates compiled into the binary, escaped by default.
//! A script's colours come from [`crate::highlight`], whose output is escaped there.

use minijinja::{Environment, Value};

pub struct View {
    env: Environment<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("plan.html", include_str!("../templates/plan.html")),
    ("job.html", include_str!("../templates/job.html")),
    ("report.html", include_str!("../templates/report.html")),
];

impl View {
    pub fn new() -> View {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            // The templates are part of the binary; a broken one fails the tests.
            if let Err(e) = env.add_template(name, src) {
                eprintln!("coagent ui: template {name}: {e}");
            }
        }
        env.add_filter("highlight", |script: String, lang: String| {
            Value::from_safe_string(crate::highlight::html(&script, &lang))
        });
        env.add_function("meter", crate::gauge::function);
        env.add_filter("threshold", crate::gauge::threshold);
        env.add_filter("short", |s: String| s.chars().take(12).collect::<String>());
        env.add_filter("time", |ms: i64| {
            let t = coagent::clock::rfc3339(ms);
            t.get(..16).map(|s| s.replace('T', " ")).unwrap_or(t)
        });
        View { env }
    }

    pub fn render(&self, name: &str, ctx: &serde_json::Value) -> Result<String, String> {
        let t = self.env.get_template(name).map_err(|e| e.to_string())?;
        t.render(Value::from(minijinja::value::Serde(ctx)))
            .map_err(|e| {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(c) = src {
                    s.push_str(&format!(": {c}"));
                    src = c.source();
                }
                s
            })
    }
}

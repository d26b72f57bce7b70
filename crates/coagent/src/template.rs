//! Payload templates (minijinja). Each built-in template can be overridden by a file of the
//! same name in the hub's `templates/` folder; the rest of CoAgent only calls [`Templates::render`].

use std::path::Path;

use minijinja::Environment;

use crate::{Error, Result, fsx};

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("boot.md", include_str!("../assets/templates/boot.md")),
    ("respawn.md", include_str!("../assets/templates/respawn.md")),
    ("capsule.md", include_str!("../assets/templates/capsule.md")),
    ("bpoe.md", include_str!("../assets/templates/bpoe.md")),
    ("result.md", include_str!("../assets/templates/result.md")),
    ("message.md", include_str!("../assets/templates/message.md")),
];

pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-ins, with the hub's overrides from `templates/` when `hub_dir` is given.
    pub fn load(hub_dir: Option<&Path>) -> Result<Templates> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|source| Error::Template {
                name: "syntax".to_string(),
                source,
            })?;
        env.set_syntax(syntax);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, builtin) in BUILTIN {
            let over = hub_dir
                .map(|d| d.join("templates").join(name))
                .filter(|p| p.is_file());
            let source = match over {
                Some(p) => fsx::read_to_string(&p)?,
                None => (*builtin).to_string(),
            };
            env.add_template_owned(*name, source)
                .map_err(|source| Error::Template {
                    name: (*name).to_string(),
                    source,
                })?;
        }
        Ok(Templates { env })
    }

    pub fn render(&self, name: &str, ctx: impl serde::Serialize) -> Result<String> {
        let t = self
            .env
            .get_template(name)
            .map_err(|source| Error::Template {
                name: name.to_string(),
                source,
            })?;
        t.render(minijinja::Value::from(minijinja::value::Serde(ctx)))
            .map_err(|source| Error::Template {
                name: name.to_string(),
                source,
            })
    }
}

/// The `templates/README.md` written by `init`.
pub fn readme() -> String {
    let mut s = String::from(
        "# Payload templates\n\nCoAgent renders its payloads from minijinja templates. To change one, put a file\nwith the same name here; CoAgent uses it instead of the built-in. The built-ins:\n\n",
    );
    for (name, _) in BUILTIN {
        s.push_str(&format!("- `{name}`\n"));
    }
    s.push_str("\nEverything a template renders still passes the secret guard before it leaves.\n");
    s
}

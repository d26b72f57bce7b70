//! Deterministic clean material for the guard's false-positive test and benchmark.
//!
//! Every category is text a CoAgent user pastes or scans every day and that contains no
//! secret, but is full of look-alikes: credential-sounding names bound to references,
//! UUIDs, git SHAs, base64 images, minified JS, lock files, digests in test vectors,
//! public keys and certificates, and keys that providers document as examples.
#![allow(dead_code)]

use std::fmt::Write as _;

use fastrand::Rng;

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdef";

const WORDS: &[&str] = &[
    "user",
    "config",
    "request",
    "response",
    "buffer",
    "index",
    "value",
    "result",
    "error",
    "handler",
    "session",
    "client",
    "server",
    "cache",
    "token",
    "parser",
    "node",
    "tree",
    "item",
    "list",
    "map",
    "key",
    "path",
    "file",
    "stream",
    "reader",
    "writer",
    "context",
    "state",
    "event",
    "message",
    "payload",
    "header",
    "body",
    "query",
    "auth",
    "password",
    "secret",
    "hash",
    "digest",
    "id",
    "name",
    "count",
    "size",
    "offset",
    "limit",
    "timeout",
    "retry",
    "status",
    "code",
    "data",
    "input",
    "output",
    "line",
    "column",
    "range",
    "span",
    "scope",
    "module",
    "field",
    "kind",
    "mode",
    "flag",
    "option",
    "setting",
    "env",
    "api",
    "credential",
    "account",
    "profile",
    "widget",
    "order",
    "invoice",
    "report",
    "metric",
];

const SENTENCES: &[&str] = &[
    "Read the token from the environment, never from a file in the repository.",
    "The password is hashed with argon2 before it is stored.",
    "Rotate the API key every 90 days; the old key keeps working for one hour.",
    "If the secret is missing, the server refuses to start and says which variable to set.",
    "Tokens are refreshed in the background before they expire.",
    "Pass the credentials through the keyring, not on the command line.",
    "The auth middleware rejects requests without a valid session.",
    "See the authentication guide for how to create a personal access token.",
    "Keys are derived with HKDF from the master secret and a per-tenant salt.",
    "We compare the digest in constant time to avoid timing attacks.",
];

/// Appends one block of a category's text.
type Generator = fn(&mut Rng, &mut String);

/// Named categories with their generators; the test reports false positives per category.
pub const CATEGORIES: &[(&str, Generator)] = &[
    ("rust-source", rust_source),
    ("python-source", python_source),
    ("js-source", js_source),
    ("minified-js", minified_js),
    ("config-and-env-examples", config_examples),
    ("json-logs-with-uuids", json_logs),
    ("git-log-and-shas", git_log),
    ("base64-images", base64_images),
    ("lock-files", lock_files),
    ("test-vectors", test_vectors),
    ("documented-example-keys", documented_examples),
    ("public-keys-and-certs", public_keys),
    ("markdown-docs", markdown_docs),
];

/// About `target` bytes of clean text, the same for the same seed; categories take turns.
pub fn clean_corpus(seed: u64, target: usize) -> Vec<(&'static str, String)> {
    let mut rng = Rng::with_seed(seed);
    let per = target / CATEGORIES.len();
    CATEGORIES
        .iter()
        .map(|(name, generate)| {
            let mut text = String::with_capacity(per + 64 * 1024);
            while text.len() < per {
                generate(&mut rng, &mut text);
            }
            (*name, text)
        })
        .collect()
}

/// Clean source code only (Rust, Python, JS), for the throughput benchmark.
pub fn clean_source(seed: u64, target: usize) -> String {
    let mut rng = Rng::with_seed(seed);
    let mut text = String::with_capacity(target + 64 * 1024);
    while text.len() < target {
        match rng.u8(..3) {
            0 => rust_source(&mut rng, &mut text),
            1 => python_source(&mut rng, &mut text),
            _ => js_source(&mut rng, &mut text),
        }
    }
    text
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn word(rng: &mut Rng) -> &'static str {
    pick(rng, WORDS)
}

fn random(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.usize(..alphabet.len())]))
        .collect()
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        random(rng, HEX, 8),
        random(rng, HEX, 4),
        random(rng, HEX, 3),
        pick(rng, &["8", "9", "a", "b"]),
        random(rng, HEX, 3),
        random(rng, HEX, 12)
    )
}

fn camel(a: &str, b: &str) -> String {
    let mut s = a.to_owned();
    let mut chars = b.chars();
    if let Some(c) = chars.next() {
        s.push(c.to_ascii_uppercase());
        s.extend(chars);
    }
    s
}

fn rust_source(rng: &mut Rng, out: &mut String) {
    let (a, b, c) = (word(rng), word(rng), word(rng));
    let n = rng.u32(1..100_000);
    let _ = writeln!(out, "/// {}", pick(rng, SENTENCES));
    let _ = writeln!(
        out,
        "pub fn {a}_{b}(&self, {c}: &{}) -> Result<{}, Error> {{",
        cap(c),
        cap(b)
    );
    for _ in 0..rng.usize(3..12) {
        let (x, y, z) = (word(rng), word(rng), word(rng));
        let line = match rng.u8(..18) {
            0 => format!("let {x} = self.{y}.{z}({x})?;"),
            1 => format!("if {x}.len() > {n} {{ return Err(Error::{}); }}", cap(y)),
            2 => "let token = self.lexer.next_token()?;".to_owned(),
            3 => format!(
                "let api_key = std::env::var(\"{}_API_KEY\").context(\"set {}_API_KEY\")?;",
                x.to_uppercase(),
                x.to_uppercase()
            ),
            4 => {
                "let password_hash = argon2.hash_password(password.as_bytes(), &salt)?;".to_owned()
            }
            5 => format!("const MAX_{}_TOKENS: usize = {n};", x.to_uppercase()),
            6 => format!("let id = Uuid::parse_str(\"{}\")?;", uuid(rng)),
            7 => format!("map.insert(\"{x}_key\".to_owned(), {n});"),
            8 => "let secret = Secret::new(config.secret_key.clone());".to_owned(),
            9 => format!("tracing::debug!(token_count = {n}, \"tokenized {x}\");"),
            10 => format!("#[serde(rename = \"{x}_{y}\")]"),
            11 => format!("// {}", pick(rng, SENTENCES)),
            12 => format!("let {x}_token: Option<Token<'_>> = {y}.peek();"),
            13 => format!("assert_eq!({x}.auth_header(), format!(\"Bearer {{}}\", token));"),
            14 => format!(
                "let password = rpassword::prompt_password(\"{} password: \")?;",
                cap(x)
            ),
            15 => format!("self.{x}.insert({y}.clone(), {z}.secret.expose().to_vec());"),
            16 => format!(
                "match {x} {{ Token::{}(t) => t, _ => unreachable!() }};",
                cap(y)
            ),
            _ => format!("let {x}: Vec<_> = {y}.iter().map(|{z}| {z}.{x}).collect();"),
        };
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "    Ok({b})\n}}\n");
}

fn cap(s: &str) -> String {
    camel("", s)
}

fn python_source(rng: &mut Rng, out: &mut String) {
    let (a, b) = (word(rng), word(rng));
    let _ = writeln!(out, "def {a}_{b}(self, {b}, timeout={}):", rng.u8(1..120));
    let _ = writeln!(out, "    \"\"\"{}\"\"\"", pick(rng, SENTENCES));
    for _ in 0..rng.usize(3..10) {
        let (x, y) = (word(rng), word(rng));
        let line = match rng.u8(..14) {
            0 => "SECRET_KEY = os.environ[\"SECRET_KEY\"]".to_owned(),
            1 => "password = getpass.getpass(\"Password: \")".to_owned(),
            2 => "token = request.headers.get(\"Authorization\", \"\").removeprefix(\"Bearer \")"
                .to_owned(),
            3 => "api_key = settings.API_KEY".to_owned(),
            4 => "self.auth_token = None".to_owned(),
            5 => format!("{x} = self.{y}.get(\"{x}\", {})", rng.u16(..1000)),
            6 => format!("logger.info(\"{x} %s took %.2fs\", {y}, elapsed)"),
            7 => format!("if not {x}:\n        raise ValueError(\"missing {x}\")"),
            8 => "digest = hashlib.sha256(password.encode()).hexdigest()".to_owned(),
            9 => format!("{x}_id = uuid.UUID(\"{}\")", uuid(rng)),
            10 => "credentials = service_account.Credentials.from_service_account_file(path)"
                .to_owned(),
            11 => format!("# {}", pick(rng, SENTENCES)),
            12 => {
                format!("return {{\"{x}\": {y}, \"token_type\": \"bearer\", \"expires_in\": 3600}}")
            }
            _ => format!("for {x} in {y}s:\n        yield {x}"),
        };
        let _ = writeln!(out, "    {line}");
    }
    out.push('\n');
}

fn js_source(rng: &mut Rng, out: &mut String) {
    let (a, b) = (word(rng), word(rng));
    let _ = writeln!(
        out,
        "export async function {}({b}, options = {{}}) {{",
        camel(a, b)
    );
    for _ in 0..rng.usize(3..10) {
        let (x, y) = (word(rng), word(rng));
        let line = match rng.u8(..12) {
            0 => "const token = localStorage.getItem(\"token\");".to_owned(),
            1 => "const headers = { Authorization: `Bearer ${token}` };".to_owned(),
            2 => "const client = new Client({ apiKey: process.env.API_KEY });".to_owned(),
            3 => "password: z.string().min(12).max(128),".to_owned(),
            4 => format!(
                "const {} = await fetch(`/api/{x}/${{{y}}}`, {{ headers }});",
                camel(x, y)
            ),
            5 => format!("if (!{x}) throw new Error(\"{x} is required\");"),
            6 => format!("// {}", pick(rng, SENTENCES)),
            7 => format!("const {{ {x}, {y} }} = options;"),
            8 => format!("this.{x} = {{ id: \"{}\", {y}: null }};", uuid(rng)),
            9 => "const secret = await secrets.get(\"stripe\");".to_owned(),
            10 => format!("setAuthToken({x}.data.accessToken);"),
            _ => format!("return {x}.map(({y}) => {y}.{x});"),
        };
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("}\n\n");
}

fn minified_js(rng: &mut Rng, out: &mut String) {
    const IDENT: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$";
    let mut line = String::new();
    while line.len() < 20_000 {
        let (e, t, n) = (
            random(rng, IDENT, 1),
            random(rng, IDENT, 1),
            random(rng, IDENT, 2),
        );
        let (x, y) = (word(rng), word(rng));
        let part = match rng.u8(..8) {
            0 => format!("function {n}({e},{t}){{var r={e}.{x}||{t};return r&&r.{y}({e})}}"),
            1 => format!("{e}.token={t}.token,{e}.secret={t}.secret;"),
            2 => format!("var {n}={{apiKey:{e}.apiKey,authDomain:{t}.authDomain,{x}:!0}};"),
            3 => format!("{e}.prototype.{x}=function({t}){{return this._{y}[{t}]}};"),
            4 => format!("\"{}\"===typeof {e}&&({t}=\"{}\");", x, random(rng, HEX, 8)),
            5 => format!("{e}.headers.Authorization=\"Bearer \"+{t}.accessToken;"),
            6 => format!(
                "case {}:return {e}.{x}({t},{});",
                rng.u16(..500),
                rng.u16(..500)
            ),
            _ => format!("{n}=({e},{t})=>{e}.{x}-{t}.{x},"),
        };
        line.push_str(&part);
    }
    out.push_str("!function(){\"use strict\";");
    out.push_str(&line);
    out.push_str("}();\n");
}

fn config_examples(rng: &mut Rng, out: &mut String) {
    let svc = word(rng);
    let blocks = [
        "DATABASE_URL=postgres://user:password@localhost:5432/app\nREDIS_URL=redis://localhost:6379/0\nAPI_KEY=your-api-key-here\nSECRET_KEY=changeme\nOPENAI_API_KEY=sk-...\nSTRIPE_SECRET_KEY=sk_test_...\n".to_owned(),
        "env:\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\nsteps:\n  - uses: actions/checkout@v4\n  - run: npm publish --access public\n".to_owned(),
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: postgres\n      POSTGRES_PASSWORD: postgres\n      POSTGRES_DB: app\n    ports: [\"5432:5432\"]\n".to_owned(),
        format!("[{svc}]\nhost = \"{svc}.internal\"\nport = {}\npassword_file = \"/run/secrets/{svc}_password\"\ntoken_ttl = \"15m\"\napi_key_env = \"{}_API_KEY\"\n", rng.u16(1024..65000), svc.to_uppercase()),
        "- name: Configure database\n  vars:\n    db_password: \"{{ vault_db_password }}\"\n    api_token: \"{{ lookup('env', 'API_TOKEN') }}\"\n".to_owned(),
        format!("spring.datasource.url=jdbc:postgresql://localhost:5432/{svc}\nspring.datasource.username=${{DB_USER}}\nspring.datasource.password=${{DB_PASSWORD}}\nserver.port=8080\n"),
        format!("<form method=\"post\">\n  <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\n  <input type=\"password\" name=\"password\" autocomplete=\"current-password\">\n</form>\n", random(rng, HEX, 40)),
        format!("[tool.poetry.dependencies]\npython = \"^3.11\"\ntokenizers = \"^0.15\"\n{svc}-auth = \"^2.1\"\n"),
        "[profile.default]\nregion = us-east-1\noutput = json\ncredential_process = /usr/local/bin/aws-vault export --format=json default\n".to_owned(),
    ];
    out.push_str(&blocks[rng.usize(..blocks.len())]);
    out.push('\n');
}

fn json_logs(rng: &mut Rng, out: &mut String) {
    let _ = writeln!(
        out,
        "{{\"ts\":\"2026-0{}-1{}T0{}:{}:{}Z\",\"level\":\"info\",\"request_id\":\"{}\",\"user_id\":\"{}\",\"session_id\":\"{}\",\"msg\":\"{} {}\",\"token_count\":{},\"trace\":\"{}\"}}",
        rng.u8(1..10),
        rng.u8(0..10),
        rng.u8(0..10),
        rng.u8(10..60),
        rng.u8(10..60),
        uuid(rng),
        uuid(rng),
        uuid(rng),
        word(rng),
        word(rng),
        rng.u32(..100_000),
        random(rng, HEX, 32)
    );
}

fn git_log(rng: &mut Rng, out: &mut String) {
    let sha = random(rng, HEX, 40);
    match rng.u8(..3) {
        0 => {
            let _ = writeln!(
                out,
                "commit {sha}\nMerge: {} {}\nAuthor: Dev Person <dev@example.org>\nDate:   Tue Nov 3 10:1{}:00 2026 +0000\n\n    {} {}: rotate the {} token handling\n",
                random(rng, HEX, 7),
                random(rng, HEX, 7),
                rng.u8(..10),
                word(rng),
                word(rng),
                word(rng)
            );
        }
        1 => {
            let _ = writeln!(
                out,
                "{} = {{ git = \"https://github.com/acme/{}-rs\", rev = \"{sha}\" }}",
                word(rng),
                word(rng)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "diff --git a/src/{0}.rs b/src/{0}.rs\nindex {1}..{2} 100644\n--- a/src/{0}.rs\n+++ b/src/{0}.rs\n@@ -1,3 +1,4 @@\n+use crate::auth::Token;",
                word(rng),
                random(rng, HEX, 12),
                random(rng, HEX, 12)
            );
        }
    }
}

fn base64_images(rng: &mut Rng, out: &mut String) {
    let n = rng.usize(2_000..40_000);
    let body = random(rng, B64, n / 4 * 4);
    match rng.u8(..3) {
        0 => {
            let _ = writeln!(
                out,
                "<img alt=\"logo\" src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA{body}\">"
            );
        }
        1 => {
            let _ = writeln!(
                out,
                "@font-face{{font-family:Inter;src:url(data:font/woff2;base64,d09GMgABAAAA{body}) format(\"woff2\")}}"
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "![diagram](data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ{body}==)"
            );
        }
    }
}

fn lock_files(rng: &mut Rng, out: &mut String) {
    let (a, b) = (word(rng), word(rng));
    let v = format!("{}.{}.{}", rng.u8(..5), rng.u8(..30), rng.u8(..20));
    match rng.u8(..5) {
        0 => {
            let _ = writeln!(
                out,
                "[[package]]\nname = \"{a}-{b}\"\nversion = \"{v}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
                random(rng, HEX, 64)
            );
        }
        1 => {
            let _ = writeln!(
                out,
                "    \"node_modules/{a}-{b}\": {{\n      \"version\": \"{v}\",\n      \"resolved\": \"https://registry.npmjs.org/{a}-{b}/-/{a}-{b}-{v}.tgz\",\n      \"integrity\": \"sha512-{}==\",\n      \"dev\": true\n    }},",
                random(rng, B64, 86)
            );
        }
        2 => {
            let _ = writeln!(
                out,
                "\"{a}-{b}@^{v}\":\n  version \"{v}\"\n  resolved \"https://registry.yarnpkg.com/{a}-{b}/-/{a}-{b}-{v}.tgz#{}\"\n  integrity sha512-{}==\n",
                random(rng, HEX, 40),
                random(rng, B64, 86)
            );
        }
        3 => {
            let _ = writeln!(
                out,
                "github.com/{a}/{b} v{v} h1:{}=\ngithub.com/{a}/{b} v{v}/go.mod h1:{}=",
                random(rng, B64, 43),
                random(rng, B64, 43)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "[[package]]\nname = \"{a}-{b}\"\nversion = \"{v}\"\nfiles = [\n    {{file = \"{a}_{b}-{v}-py3-none-any.whl\", hash = \"sha256:{}\"}},\n]\n",
                random(rng, HEX, 64)
            );
        }
    }
}

fn test_vectors(rng: &mut Rng, out: &mut String) {
    match rng.u8(..5) {
        0 => {
            let _ = writeln!(
                out,
                "#[test]\nfn sha256_{}() {{\n    assert_eq!(hex::encode(Sha256::digest(b\"{}\")), \"{}\");\n}}\n",
                word(rng),
                word(rng),
                random(rng, HEX, 64)
            );
        }
        1 => {
            let _ = writeln!(
                out,
                "Len = {}\nMsg = {}\nMD = {}\n",
                rng.u16(..2048),
                random(rng, HEX, 128),
                random(rng, HEX, 64)
            );
        }
        2 => {
            // RFC 5869-style HKDF vector: patterned inputs, random-looking output.
            let _ = writeln!(
                out,
                "IKM  = 0x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\nsalt = 0x000102030405060708090a0b0c\ninfo = 0xf0f1f2f3f4f5f6f7f8f9\nL    = 42\nPRK  = 0x{}\nOKM  = 0x{}\n",
                random(rng, HEX, 64),
                random(rng, HEX, 84)
            );
        }
        3 => {
            let _ = writeln!(
                out,
                "    {{ secret = \"000102030405060708090a0b0c0d0e0f\", nonce = \"{}\", expected = \"{}\" }},",
                random(rng, HEX, 24),
                random(rng, HEX, 64)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "    (b\"{}\", \"{}\"),  # md5\n    (b\"{}\", \"{}\"),  # sha1",
                word(rng),
                random(rng, HEX, 32),
                word(rng),
                random(rng, HEX, 40)
            );
        }
    }
}

fn documented_examples(rng: &mut Rng, out: &mut String) {
    let blocks = [
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "curl https://api.stripe.com/v1/charges -u sk_test_4eC39HqLyjWDarjtT1zdp7dc: -d amount=2000\n",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n",
        "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\n",
        "const firebaseConfig = { apiKey: \"AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\" };\n",
        "OPENAI_API_KEY=sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n",
        "git clone https://username:password@github.com/acme/app.git\n",
        "psql postgresql://postgres:postgres@localhost:5432/postgres\n",
        "DATABASE_URL=mysql://root:${MYSQL_ROOT_PASSWORD}@db:3306/app\n",
        "api_key = \"<YOUR_API_KEY>\"\npassword = \"********\"\ntoken = \"REPLACE_ME\"\n",
    ];
    out.push_str(blocks[rng.usize(..blocks.len())]);
}

fn public_keys(rng: &mut Rng, out: &mut String) {
    let lines: Vec<String> = (0..rng.usize(6..25))
        .map(|_| random(rng, B64, 64))
        .collect();
    match rng.u8(..4) {
        0 => {
            let _ = writeln!(
                out,
                "-----BEGIN CERTIFICATE-----\nMIID{}\n-----END CERTIFICATE-----",
                lines.join("\n")
            );
        }
        1 => {
            let _ = writeln!(
                out,
                "-----BEGIN PUBLIC KEY-----\nMIIB{}\n-----END PUBLIC KEY-----",
                lines.join("\n")
            );
        }
        2 => {
            let _ = writeln!(
                out,
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{} {}@{}",
                lines.concat(),
                word(rng),
                word(rng)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} deploy@ci",
                random(rng, B64, 43)
            );
        }
    }
}

fn markdown_docs(rng: &mut Rng, out: &mut String) {
    let _ = writeln!(out, "## {} {}\n", cap(word(rng)), word(rng));
    for _ in 0..rng.usize(2..6) {
        let _ = write!(out, "{} ", pick(rng, SENTENCES));
    }
    let _ = writeln!(
        out,
        "\n\n| option | meaning |\n|---|---|\n| `{0}_token` | the {0} token, read from `${1}_TOKEN` |\n| `password` | see `--password-file` |\n",
        word(rng),
        word(rng).to_uppercase()
    );
}

//! The built-in rule table: one row per documented token format.
//!
//! Owns the regexes, keywords and checks of the rules CoAgent ships. It must never hold a
//! real secret: the only literal values here are public prefixes and documented examples.
//!
//! Conventions every row follows, so that the engine can stay generic:
//! - the regex is compiled with Unicode off (`regex::bytes`), and capture group
//!   `secret_group` is exactly the secret (what gets redacted);
//! - a trailing boundary that cannot be written as `\b` (tokens whose alphabet contains `-`)
//!   is matched *outside* the secret group as `(?:[^…]|$)`;
//! - keywords are what the single Aho-Corasick prefilter looks for; a rule's regex only
//!   runs on the lines around its keyword hits, so a keyword must occur in (or on the line
//!   of) every match;
//! - `prefix` is how many leading characters of the secret are a public, fixed prefix
//!   (`ghp_`, `AKIA`, `sk-`) that previews may show (capped at 4).

/// How a candidate's value is checked beyond the regex.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Check {
    /// Shannon entropy (bits per byte) of the secret must reach this floor. Known formats
    /// use a low floor that only rejects placeholders such as `ghp_xxxx…`.
    Entropy(f32),
    /// The value of a credential assignment (a password, an `.env` value): it must be a
    /// literal and look random (see `entropy::assigned_value_is_secret`).
    Assignment,
    /// A password inside a URL: anything but an obvious placeholder counts.
    NotPlaceholder,
}

/// One built-in rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Builtin {
    pub id: &'static str,
    pub description: &'static str,
    pub regex: &'static str,
    pub keywords: &'static [&'static str],
    /// Keywords must match byte for byte (token prefixes have a fixed case); otherwise
    /// they match ASCII-case-insensitively like gitleaks keywords.
    pub case_sensitive: bool,
    pub secret_group: usize,
    pub check: Check,
    pub prefix: usize,
    /// Bytes after a keyword hit that a match may reach beyond the end of its line
    /// (multi-line blocks such as PEM keys).
    pub after: usize,
    /// Generic rules lose every overlap against specific ones, and against user rules.
    pub generic: bool,
    /// The regex is matched anchored right after each keyword hit (on at most
    /// `ANCHORED_SPAN` bytes) instead of in a window: for rules whose keywords are common
    /// words in code, this makes a non-matching hit cost a few bytes of DFA.
    pub anchored: bool,
}

const BASE: Builtin = Builtin {
    id: "",
    description: "",
    regex: "",
    keywords: &[],
    case_sensitive: true,
    secret_group: 1,
    check: Check::Entropy(3.0),
    prefix: 0,
    after: 0,
    generic: false,
    anchored: false,
};

/// Values that are published as examples by the providers themselves and so appear in
/// documentation and tests everywhere; they are never reported.
pub(crate) const DOCUMENTED_EXAMPLES: &[&str] = &[
    // Stripe's documentation test keys.
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    // The signature of the jwt.io example token.
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    // The Azure storage emulator's well-known account key.
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
];

/// Substrings (case-insensitive) that mark a value as a placeholder, not a secret. Each is
/// long enough that a random token contains it with negligible probability.
pub(crate) const STOPWORDS: &[&str] = &[
    "example",
    "sample",
    "dummy",
    "placeholder",
    "changeme",
    "change_me",
    "redacted",
    "password",
    "your_",
    "your-",
    "xxxxxx",
    "******",
    "......",
    "<",
    ">",
    "${",
    "{{",
];

/// The table. Specific formats first; generic rules (`generic: true`) last.
pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        id: "aws-access-key-id",
        description: "AWS access key id",
        regex: r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        keywords: &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "aws-secret-access-key",
        description: "AWS secret access key in an assignment",
        regex: r#"(?i)aws[a-z0-9_.\-]{0,30}(?:secret|access)[a-z0-9_.\-]{0,30}["'`]?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        keywords: &["aws"],
        case_sensitive: false,
        check: Check::Entropy(3.5),
        ..BASE
    },
    Builtin {
        id: "github-pat",
        description: "GitHub personal access token (classic)",
        regex: r"\b(ghp_[A-Za-z0-9]{36})\b",
        keywords: &["ghp_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "github-fine-grained-pat",
        description: "GitHub fine-grained personal access token",
        regex: r"\b(github_pat_[A-Za-z0-9_]{82})\b",
        keywords: &["github_pat_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "github-oauth",
        description: "GitHub OAuth access token",
        regex: r"\b(gho_[A-Za-z0-9]{36})\b",
        keywords: &["gho_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "github-app-token",
        description: "GitHub App user-to-server or server-to-server token",
        regex: r"\b((?:ghu|ghs)_[A-Za-z0-9]{36})\b",
        keywords: &["ghu_", "ghs_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "github-refresh-token",
        description: "GitHub refresh token",
        regex: r"\b(ghr_[A-Za-z0-9]{36,76})\b",
        keywords: &["ghr_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "gitlab-pat",
        description: "GitLab personal, project or group access token",
        regex: r"\b(glpat-[A-Za-z0-9_\-]{20,300})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["glpat-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "gitlab-runner-token",
        description: "GitLab runner authentication token",
        regex: r"\b(glrt-[A-Za-z0-9_\-]{20,300})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["glrt-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "gitlab-pipeline-trigger-token",
        description: "GitLab pipeline trigger token",
        regex: r"\b(glptt-[0-9a-f]{40})\b",
        keywords: &["glptt-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "gitlab-deploy-token",
        description: "GitLab deploy token",
        regex: r"\b(gldt-[A-Za-z0-9_\-]{20,300})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["gldt-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "slack-bot-token",
        description: "Slack bot token",
        regex: r"\b(xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,34})\b",
        keywords: &["xoxb-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "slack-user-token",
        description: "Slack user or legacy token",
        regex: r"\b(xox[pears]-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{32})\b",
        keywords: &["xoxp-", "xoxe-", "xoxa-", "xoxr-", "xoxs-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "slack-app-token",
        description: "Slack app-level token",
        regex: r"\b(xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,13}-[a-f0-9]{64})\b",
        keywords: &["xapp-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "slack-webhook",
        description: "Slack incoming webhook URL",
        regex: r"hooks\.slack\.com/(?:services|workflows|triggers)/(T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{24,32})\b",
        keywords: &["hooks.slack.com"],
        case_sensitive: false,
        ..BASE
    },
    Builtin {
        id: "stripe-secret-key",
        description: "Stripe secret or restricted API key",
        regex: r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,247})\b",
        keywords: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "sendgrid-api-key",
        description: "SendGrid API key",
        regex: r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["SG."],
        prefix: 3,
        ..BASE
    },
    Builtin {
        id: "mailgun-api-key",
        description: "Mailgun private API key",
        regex: r"\b(key-[0-9a-f]{32})\b",
        keywords: &["key-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "mailgun-signing-key",
        description: "Mailgun API or webhook signing key near the word mailgun",
        regex: r"(?i)mailgun.{0,60}?\b([0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})\b",
        keywords: &["mailgun"],
        case_sensitive: false,
        ..BASE
    },
    Builtin {
        id: "mailchimp-api-key",
        description: "Mailchimp API key",
        regex: r"\b([0-9a-f]{32}-us[0-9]{1,2})\b",
        keywords: &["-us"],
        ..BASE
    },
    Builtin {
        id: "twilio-api-key",
        description: "Twilio API key SID",
        regex: r"\b(SK[0-9a-fA-F]{32})\b",
        keywords: &["SK"],
        prefix: 2,
        ..BASE
    },
    Builtin {
        id: "twilio-auth-token",
        description: "Twilio auth token near the word twilio",
        regex: r#"(?i)twilio[a-z0-9_.\-]{0,30}(?:token|secret|auth)[a-z0-9_.\-]{0,20}["'`]?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?([a-f0-9]{32})\b"#,
        keywords: &["twilio"],
        case_sensitive: false,
        ..BASE
    },
    Builtin {
        id: "openai-api-key",
        description: "OpenAI API key (project, service account, admin or legacy)",
        regex: r"\b(sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["T3BlbkFJ"],
        prefix: 3,
        ..BASE
    },
    Builtin {
        id: "anthropic-api-key",
        description: "Anthropic API or admin key",
        regex: r"\b(sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{80,120})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["sk-ant-"],
        prefix: 3,
        ..BASE
    },
    Builtin {
        id: "groq-api-key",
        description: "Groq API key",
        regex: r"\b(gsk_[A-Za-z0-9]{52})\b",
        keywords: &["gsk_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "xai-api-key",
        description: "xAI API key",
        regex: r"\b(xai-[A-Za-z0-9]{80})\b",
        keywords: &["xai-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "perplexity-api-key",
        description: "Perplexity API key",
        regex: r"\b(pplx-[A-Za-z0-9]{48})\b",
        keywords: &["pplx-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "replicate-api-token",
        description: "Replicate API token",
        regex: r"\b(r8_[A-Za-z0-9]{37})\b",
        keywords: &["r8_"],
        prefix: 3,
        ..BASE
    },
    Builtin {
        id: "huggingface-token",
        description: "Hugging Face access token",
        regex: r"\b((?:hf_|api_org_)[A-Za-z]{34})\b",
        keywords: &["hf_", "api_org_"],
        prefix: 3,
        ..BASE
    },
    Builtin {
        id: "google-api-key",
        description: "Google API key",
        regex: r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["AIza"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "google-oauth-client-secret",
        description: "Google OAuth client secret",
        regex: r"\b(GOCSPX-[A-Za-z0-9_\-]{28})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["GOCSPX-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "azure-storage-key",
        description: "Azure storage account or Service Bus shared access key",
        regex: r"(?i)(?:AccountKey|SharedAccessKey)[ \t]*=[ \t]*([A-Za-z0-9+/]{43,86}={0,2})",
        keywords: &["accountkey", "sharedaccesskey"],
        case_sensitive: false,
        check: Check::Entropy(3.5),
        ..BASE
    },
    Builtin {
        id: "azure-ad-client-secret",
        description: "Azure AD (Entra ID) client secret",
        regex: r"(?m)(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        keywords: &["Q~"],
        ..BASE
    },
    Builtin {
        id: "npm-token",
        description: "npm access token",
        regex: r"\b(npm_[A-Za-z0-9]{36})\b",
        keywords: &["npm_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "pypi-token",
        description: "PyPI upload token",
        regex: r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["pypi-AgEIcHlwaS5vcmc"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "dockerhub-token",
        description: "Docker Hub personal or organisation access token",
        regex: r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,32})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["dckr_pat_", "dckr_oat_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "circleci-token",
        description: "CircleCI personal or project API token",
        regex: r"\b(CCI(?:PAT|PRJ)_[A-Za-z0-9]{22}_[a-f0-9]{40})\b",
        keywords: &["CCIPAT_", "CCIPRJ_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "circleci-legacy-token",
        description: "CircleCI legacy 40-hex API token in a circle* assignment",
        regex: r#"(?i)circle[a-z0-9_.\-]{0,30}(?:token|key|secret)[a-z0-9_.\-]{0,20}["'`]?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?([a-f0-9]{40})\b"#,
        keywords: &["circle"],
        case_sensitive: false,
        ..BASE
    },
    Builtin {
        id: "heroku-api-key",
        description: "Heroku API key (UUID in a heroku* assignment, or HRKU- token)",
        regex: r#"(?i)(?:heroku[a-z0-9_.\-]{0,30}(?:key|token|secret|auth)[a-z0-9_.\-]{0,20}["'`]?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b|\b(HRKU-AA[0-9A-Za-z_\-]{58})(?:[^A-Za-z0-9_\-]|$))"#,
        keywords: &["heroku", "hrku-"],
        case_sensitive: false,
        secret_group: 0,
        ..BASE
    },
    Builtin {
        id: "digitalocean-token",
        description: "DigitalOcean personal, OAuth or refresh token",
        regex: r"\b((?:dop|doo|dor)_v1_[a-f0-9]{64})\b",
        keywords: &["dop_v1_", "doo_v1_", "dor_v1_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "shopify-token",
        description: "Shopify access token or shared secret",
        regex: r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
        keywords: &["shpat_", "shpca_", "shppa_", "shpss_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "discord-bot-token",
        description: "Discord bot token on a line that mentions discord",
        regex: r"\b([MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})(?:[^A-Za-z0-9_\-.]|$)",
        keywords: &["discord"],
        case_sensitive: false,
        check: Check::Entropy(3.5),
        ..BASE
    },
    Builtin {
        id: "discord-webhook",
        description: "Discord webhook URL",
        regex: r"discord(?:app)?\.com/api/webhooks/([0-9]{17,20}/[A-Za-z0-9_\-]{60,68})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["discord"],
        case_sensitive: false,
        ..BASE
    },
    Builtin {
        id: "telegram-bot-token",
        description: "Telegram bot token",
        regex: r"(?m)(?:^|[^0-9])([0-9]{8,10}:AA[A-Za-z0-9_\-]{33})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &[":AA"],
        ..BASE
    },
    Builtin {
        id: "hashicorp-vault-token",
        description: "HashiCorp Vault service or batch token",
        regex: r"\b(hv[sb]\.[A-Za-z0-9_\-]{90,250})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["hvs.", "hvb."],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "databricks-token",
        description: "Databricks personal access token",
        regex: r"\b(dapi[a-f0-9]{32}(?:-[0-9])?)\b",
        keywords: &["dapi"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "linear-api-key",
        description: "Linear API key",
        regex: r"\b(lin_api_[A-Za-z0-9]{40})\b",
        keywords: &["lin_api_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "postman-api-key",
        description: "Postman API key",
        regex: r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
        keywords: &["PMAK-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "new-relic-user-key",
        description: "New Relic user API key",
        regex: r"\b(NRAK-[A-Z0-9]{27})\b",
        keywords: &["NRAK-"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "grafana-service-account-token",
        description: "Grafana service account token",
        regex: r"\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})\b",
        keywords: &["glsa_"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "age-secret-key",
        description: "age encryption secret key",
        regex: r"\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b",
        keywords: &["AGE-SECRET-KEY-1"],
        prefix: 4,
        ..BASE
    },
    Builtin {
        id: "private-key",
        description: "Private key block (PEM, OpenSSH, PGP), also with escaped newlines",
        // The body may not contain `-----`, so a short placeholder block cannot reach the END
        // line of another block further down.
        regex: r"(-----BEGIN[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[^\-]|-{1,4}[^\-]){64,}?-----END[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----)",
        keywords: &["-----BEGIN"],
        check: Check::Entropy(4.0),
        after: 32 * 1024,
        ..BASE
    },
    Builtin {
        id: "jwt",
        description: "JSON Web Token",
        regex: r"\b(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})(?:[^A-Za-z0-9_\-]|$)",
        keywords: &["eyJ"],
        prefix: 3,
        ..BASE
    },
    Builtin {
        id: "url-password",
        description: "Password in a URL or connection string (scheme://user:password@host)",
        regex: r#"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/?#@"'<>\\\[\]]{0,64}:([^\s/?#@"'<>\\]{3,128})@[A-Za-z0-9\[]"#,
        keywords: &["://"],
        check: Check::NotPlaceholder,
        generic: true,
        ..BASE
    },
    Builtin {
        id: "generic-credential",
        description: "Credential assignment (password=, api_key:, \"secret\": …, .env) with a random-looking value",
        // Anchored after the keyword: the rest of the name, an assignment operator, an
        // optional quote, then the value up to a terminator.
        regex: r#"(?i)^[a-z0-9_.\-]{0,40}["'`]?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?([A-Za-z0-9+/=_\-.~!@#$%^&*?]{10,256})(?:["'`\s;,)\]}]|$)"#,
        keywords: &[
            "pass",
            "pwd",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "api.key",
            "access_key",
            "access-key",
            "accesskey",
            "private_key",
            "private-key",
            "privatekey",
            "signing_key",
            "encryption_key",
            "master_key",
            "credential",
            "auth",
        ],
        case_sensitive: false,
        check: Check::Assignment,
        generic: true,
        anchored: true,
        ..BASE
    },
];

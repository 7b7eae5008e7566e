//! The `[stacks.<name>]` table of a cognito stack, and its validation into
//! [`Settings`]: the password policy, MFA and recovery of the user pool,
//! each app client's OAuth settings and token lifetimes, the hosted-UI
//! domain, the groups.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::check::{self, DomainWording};
use strata_sdk::{Context, Diagnostics, cfn};

/// Cognito's password lengths; below 8 is not a password.
const PASSWORD_LENGTH: std::ops::RangeInclusive<u32> = 8..=99;
/// Days a temporary password stays valid.
const TEMPORARY_PASSWORD_DAYS: std::ops::RangeInclusive<u32> = 1..=365;
/// Access and ID token lifetimes Cognito accepts, minutes.
const TOKEN_MINUTES: std::ops::RangeInclusive<u32> = 5..=1440;
/// Refresh token lifetimes Cognito accepts, days.
const REFRESH_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;
/// A client's or group's name in the config: part of names and exports.
const MAX_NAME: usize = 40;
/// Cognito's limits on a user pool.
const MAX_CLIENTS: usize = 1000;
/// Longest prefix domain.
const MAX_PREFIX: usize = 63;
/// OAuth scopes Cognito defines without a resource server.
pub const SCOPES: [&str; 5] = [
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];
/// OAuth flows a client may use.
pub const FLOWS: [&str; 2] = ["code", "implicit"];

const WORDING: DomainWording = DomainWording {
    single_label: "it is a single label",
    misplaced_wildcard: " (a custom domain cannot be a wildcard)",
    help: "write the domain of the sign-in pages, e.g. `auth.example.com`",
};

/// A Cognito user pool: email sign-in, a password policy, MFA, app clients,
/// an optional hosted-UI domain and groups.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Users sign in with their email address as the username (`false`:
    /// with a username, the email address still verified).
    pub email_as_username: bool,
    /// Anyone may sign up (`false`: only administrators create users).
    pub self_sign_up: bool,
    /// Multi-factor authentication: `off`, `optional` (each user chooses)
    /// or `required`. The factor is an authenticator app (TOTP).
    pub mfa: Mfa,
    /// How a user who forgot their password recovers the account:
    /// `email` (a code to the verified address) or `admin-only`.
    pub account_recovery: AccountRecovery,
    /// What a password must be.
    pub password: PasswordPolicy,
    /// Refuse to delete the user pool (`DeletionProtection: ACTIVE`).
    /// Defaults to `true` in production, where it cannot be turned off,
    /// and `false` elsewhere.
    pub deletion_protection: Option<bool>,
    /// App clients: the applications that sign users in.
    pub clients: Vec<Client>,
    /// The hosted UI's domain (sign-in pages and OAuth endpoints). Unset:
    /// no domain.
    pub domain: Option<Domain>,
    /// User groups, e.g. `admin`.
    pub groups: Vec<Group>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            email_as_username: true,
            self_sign_up: true,
            mfa: Mfa::Optional,
            account_recovery: AccountRecovery::Email,
            password: PasswordPolicy::default(),
            deletion_protection: None,
            clients: Vec::new(),
            domain: None,
            groups: Vec::new(),
        }
    }
}

/// Multi-factor authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mfa {
    /// No second factor.
    Off,
    /// Users may add an authenticator app.
    Optional,
    /// Every user must use an authenticator app.
    Required,
}

/// Account recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AccountRecovery {
    /// A code sent to the verified email address.
    Email,
    /// Only an administrator can reset a password.
    AdminOnly,
}

/// The password policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    /// Shortest password, 8 to 99 characters.
    pub minimum_length: u32,
    /// Require a lowercase letter.
    pub require_lowercase: bool,
    /// Require an uppercase letter.
    pub require_uppercase: bool,
    /// Require a digit.
    pub require_numbers: bool,
    /// Require a symbol.
    pub require_symbols: bool,
    /// Days a temporary password (an administrator's invitation) stays
    /// valid, 1 to 365.
    pub temporary_password_validity_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: 12,
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
        }
    }
}

/// An app client.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Client {
    /// Short name (lowercase letters, digits and single hyphens, at most 40
    /// characters): the client is named `{project}-{environment}-{name}`
    /// and its id exported as `client-{name}-id`.
    pub name: String,
    /// Give the client a secret: for server-side applications that can
    /// keep one. Browser and mobile apps have none.
    pub generate_secret: bool,
    /// OAuth flows through the hosted UI: `code` (authorization code, with
    /// PKCE for public clients) and/or `implicit`. Empty: no OAuth, only
    /// the Cognito API (SRP sign-in).
    pub oauth_flows: Vec<String>,
    /// OAuth scopes: `openid` (required with the others), `email`,
    /// `phone`, `profile`, `aws.cognito.signin.user.admin`.
    pub oauth_scopes: Vec<String>,
    /// Where the hosted UI may send users after sign-in: `https://` URLs,
    /// or `http://localhost` for development. Required with OAuth flows.
    pub callback_urls: Vec<String>,
    /// Where the hosted UI may send users after sign-out.
    pub logout_urls: Vec<String>,
    /// Minutes an access token is valid, 5 to 1440.
    pub access_token_minutes: u32,
    /// Minutes an ID token is valid, 5 to 1440.
    pub id_token_minutes: u32,
    /// Days a refresh token is valid, 1 to 3650.
    pub refresh_token_days: u32,
}

impl Default for Client {
    fn default() -> Self {
        Self {
            name: String::new(),
            generate_secret: false,
            oauth_flows: vec!["code".into()],
            oauth_scopes: ["openid", "email", "profile"].map(String::from).to_vec(),
            callback_urls: Vec::new(),
            logout_urls: Vec::new(),
            access_token_minutes: 60,
            id_token_minutes: 60,
            refresh_token_days: 30,
        }
    }
}

/// The hosted UI's domain: a prefix domain under `amazoncognito.com`, or a
/// custom domain with an ACM certificate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Domain {
    /// The prefix of `{prefix}.auth.{region}.amazoncognito.com`: lowercase
    /// letters, digits and hyphens, without `aws`, `amazon` or `cognito`.
    /// Defaults to `{project}-{environment}-{stack}`.
    pub prefix: Option<String>,
    /// A custom domain instead, e.g. `auth.example.com`. Its certificate
    /// (in us-east-1) comes from `certificate_stack`, and its parent domain
    /// must resolve (an `A` record) before Cognito accepts it.
    pub custom_domain: Option<String>,
    /// Stack to import the custom domain's `certificate-arn` from.
    pub certificate_stack: String,
}

impl Default for Domain {
    fn default() -> Self {
        Self {
            prefix: None,
            custom_domain: None,
            certificate_stack: "certificate".into(),
        }
    }
}

/// A user group.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Group {
    /// The group's name (lowercase letters, digits and single hyphens, at
    /// most 40 characters), e.g. `admin`. Tokens carry it in
    /// `cognito:groups`.
    pub name: String,
    /// What the group is for.
    pub description: Option<String>,
    /// Which group's role wins when a user is in several (lower wins).
    pub precedence: Option<u32>,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Email as the username.
    pub email_as_username: bool,
    /// Self sign-up allowed.
    pub self_sign_up: bool,
    /// MFA.
    pub mfa: Mfa,
    /// Account recovery.
    pub account_recovery: AccountRecovery,
    /// The password policy.
    pub password: PasswordPolicy,
    /// Deletion protection on.
    pub deletion_protection: bool,
    /// App clients, with their logical ids.
    pub clients: Vec<(String, Client)>,
    /// The domain.
    pub domain: Option<HostedDomain>,
    /// Groups, with their logical ids.
    pub groups: Vec<(String, Group)>,
}

/// The hosted UI's domain, validated.
#[derive(Debug, Clone)]
pub enum HostedDomain {
    /// `{prefix}.auth.{region}.amazoncognito.com`.
    Prefix(String),
    /// A custom domain, with the stack exporting its certificate.
    Custom {
        /// The domain.
        domain: String,
        /// The certificate stack.
        certificate_stack: String,
    },
}

impl Config {
    /// Check every key, reporting all problems at once. On success, also
    /// returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check_password(&self.password, &mut diagnostics);
        let deletion_protection = match self.deletion_protection {
            Some(false) if ctx.is_production() => {
                diagnostics
                    .error(
                        "deletion_protection",
                        "production user pools always have deletion protection",
                    )
                    .help("remove `deletion_protection = false`: deleting the pool deletes every user");
                true
            }
            Some(on) => on,
            None => ctx.is_production(),
        };
        let domain = self
            .domain
            .as_ref()
            .and_then(|domain| check_domain(ctx, domain, &mut diagnostics));
        let clients = self.check_clients(domain.is_some(), &mut diagnostics);
        let groups = self.check_groups(&mut diagnostics);
        diagnostics.check()?;
        Ok((
            Settings {
                email_as_username: self.email_as_username,
                self_sign_up: self.self_sign_up,
                mfa: self.mfa,
                account_recovery: self.account_recovery,
                password: self.password,
                deletion_protection,
                clients,
                domain,
                groups,
            },
            diagnostics,
        ))
    }

    fn check_clients(
        &self,
        has_domain: bool,
        diagnostics: &mut Diagnostics,
    ) -> Vec<(String, Client)> {
        if self.clients.len() > MAX_CLIENTS {
            diagnostics
                .error(
                    "clients",
                    "Cognito allows at most 1000 app clients per user pool",
                )
                .help("remove some");
        }
        let mut checked: Vec<(String, Client)> = Vec::new();
        for (index, client) in self.clients.iter().enumerate() {
            let path = format!("clients.{index}");
            let mut ok = check::resource_name(
                &format!("{path}.name"),
                "client",
                &client.name,
                MAX_NAME,
                "web",
                diagnostics,
            );
            let logical_id = format!("{}Client", cfn::logical_id(&client.name));
            if ok {
                let earlier = checked.iter().map(|(id, c)| (c.name.as_str(), id.as_str()));
                ok = check::unique_name(
                    &format!("{path}.name"),
                    "client",
                    &client.name,
                    &logical_id,
                    earlier,
                    diagnostics,
                );
            }
            ok &= check_oauth(&path, client, has_domain, diagnostics);
            ok &= check_tokens(&path, client, diagnostics);
            if ok {
                checked.push((logical_id, client.clone()));
            }
        }
        checked
    }

    fn check_groups(&self, diagnostics: &mut Diagnostics) -> Vec<(String, Group)> {
        let mut checked: Vec<(String, Group)> = Vec::new();
        for (index, group) in self.groups.iter().enumerate() {
            let path = format!("groups.{index}.name");
            if !check::resource_name(&path, "group", &group.name, MAX_NAME, "admin", diagnostics) {
                continue;
            }
            let logical_id = format!("{}Group", cfn::logical_id(&group.name));
            let earlier = checked.iter().map(|(id, g)| (g.name.as_str(), id.as_str()));
            if !check::unique_name(
                &path,
                "group",
                &group.name,
                &logical_id,
                earlier,
                diagnostics,
            ) {
                continue;
            }
            if group
                .description
                .as_ref()
                .is_some_and(|d| d.chars().count() > 2048)
            {
                diagnostics
                    .error(
                        format!("groups.{index}.description"),
                        "the description is longer than Cognito's 2048 characters",
                    )
                    .help("shorten it");
                continue;
            }
            checked.push((logical_id, group.clone()));
        }
        checked
    }
}

fn check_password(policy: &PasswordPolicy, diagnostics: &mut Diagnostics) {
    if !PASSWORD_LENGTH.contains(&policy.minimum_length) {
        diagnostics
            .error(
                "password.minimum_length",
                format!("`{}` is outside 8 to 99 characters", policy.minimum_length),
            )
            .help("use `12` or more: length matters more than character classes");
    }
    if !TEMPORARY_PASSWORD_DAYS.contains(&policy.temporary_password_validity_days) {
        diagnostics
            .error(
                "password.temporary_password_validity_days",
                format!(
                    "`{}` days is outside Cognito's 1 to 365",
                    policy.temporary_password_validity_days
                ),
            )
            .help("use e.g. `7`");
    }
}

/// The hosted UI's domain, or `None` (with an error).
fn check_domain(
    ctx: &Context,
    domain: &Domain,
    diagnostics: &mut Diagnostics,
) -> Option<HostedDomain> {
    match (&domain.prefix, &domain.custom_domain) {
        (Some(_), Some(_)) => {
            diagnostics
                .error(
                    "domain.custom_domain",
                    "a user pool domain is a prefix or a custom domain, not both",
                )
                .help("remove `prefix` to use the custom domain, or `custom_domain` to use the prefix");
            None
        }
        (None, Some(raw)) => {
            let name = check::domain_name("domain.custom_domain", raw, &WORDING, diagnostics)?;
            if name.starts_with("*.") {
                diagnostics
                    .error("domain.custom_domain", format!("`{raw}` is a wildcard"))
                    .help("write one domain, e.g. `auth.example.com`");
                return None;
            }
            if !check::stack_name(
                "domain.certificate_stack",
                &domain.certificate_stack,
                diagnostics,
            ) {
                return None;
            }
            if ctx.region != "us-east-1" {
                diagnostics
                    .error(
                        "domain.custom_domain",
                        format!(
                            "a Cognito custom domain needs an ACM certificate in us-east-1, and this environment's certificate stack is in `{}`",
                            ctx.region
                        ),
                    )
                    .help("use a prefix domain (remove `custom_domain`), or put the user pool in a us-east-1 environment");
                return None;
            }
            Some(HostedDomain::Custom {
                domain: name.to_owned(),
                certificate_stack: domain.certificate_stack.clone(),
            })
        }
        (prefix, None) => {
            let (path, value) = match prefix {
                Some(prefix) => ("domain.prefix", prefix.clone()),
                None => ("domain", ctx.name(&ctx.stack)),
            };
            if let Some(problem) = prefix_problem(&value) {
                let help = if prefix.is_some() {
                    "use lowercase letters, digits and hyphens, without `aws`, `amazon` or `cognito`, e.g. `acme-auth`".to_owned()
                } else {
                    format!(
                        "the default prefix is `{value}`; set `domain.prefix`, e.g. `prefix = \"{}\"`",
                        check::suggest_name(
                            &value
                                .replace("aws", "")
                                .replace("amazon", "")
                                .replace("cognito", ""),
                            MAX_PREFIX,
                            "sign-in"
                        )
                    )
                };
                diagnostics
                    .error(
                        path,
                        format!("`{value}` is not a Cognito domain prefix: {problem}"),
                    )
                    .help(help);
                return None;
            }
            Some(HostedDomain::Prefix(value))
        }
    }
}

/// What is wrong with a Cognito prefix domain, or `None`.
fn prefix_problem(prefix: &str) -> Option<String> {
    if prefix.is_empty() || prefix.len() > MAX_PREFIX {
        return Some(format!("it must be 1 to {MAX_PREFIX} characters"));
    }
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!("`{bad}` is not allowed"));
    }
    if prefix.starts_with('-') || prefix.ends_with('-') {
        return Some("it must not start or end with `-`".into());
    }
    ["aws", "amazon", "cognito"]
        .iter()
        .find(|word| prefix.contains(*word))
        .map(|word| format!("Cognito refuses prefixes containing `{word}`"))
}

fn check_oauth(
    path: &str,
    client: &Client,
    has_domain: bool,
    diagnostics: &mut Diagnostics,
) -> bool {
    let mut ok = true;
    for (index, flow) in client.oauth_flows.iter().enumerate() {
        if FLOWS.contains(&flow.as_str()) && !client.oauth_flows[..index].contains(flow) {
            continue;
        }
        let help = if flow == "client_credentials" || flow == "client-credentials" {
            "client credentials need a resource server's custom scopes, which this module does not create; use `code`".to_owned()
        } else if client.oauth_flows[..index].contains(flow) {
            "remove the second one".to_owned()
        } else {
            "use `code` (recommended) or `implicit`".to_owned()
        };
        diagnostics
            .error(
                format!("{path}.oauth_flows.{index}"),
                format!("`{flow}` is not an OAuth flow this module offers, or is listed twice"),
            )
            .help(help);
        ok = false;
    }
    for (index, scope) in client.oauth_scopes.iter().enumerate() {
        if !SCOPES.contains(&scope.as_str()) {
            let help = match check::did_you_mean(scope, &SCOPES) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("one of `{}`", SCOPES.join("`, `")),
            };
            diagnostics
                .error(
                    format!("{path}.oauth_scopes.{index}"),
                    format!("`{scope}` is not a Cognito scope"),
                )
                .help(help);
            ok = false;
        }
    }
    let needs_openid = client
        .oauth_scopes
        .iter()
        .any(|s| matches!(s.as_str(), "email" | "phone" | "profile"));
    if needs_openid && !client.oauth_scopes.iter().any(|s| s == "openid") {
        diagnostics
            .error(
                format!("{path}.oauth_scopes"),
                "`email`, `phone` and `profile` need the `openid` scope",
            )
            .help("add `\"openid\"`");
        ok = false;
    }
    let oauth = !client.oauth_flows.is_empty();
    if oauth && client.oauth_scopes.is_empty() {
        diagnostics
            .error(
                format!("{path}.oauth_scopes"),
                "OAuth flows need at least one scope",
            )
            .help("e.g. `oauth_scopes = [\"openid\", \"email\"]`");
        ok = false;
    }
    if oauth && client.callback_urls.is_empty() {
        diagnostics
            .error(
                format!("{path}.callback_urls"),
                format!("client `{}` uses OAuth but has no callback URL", client.name),
            )
            .help("add where users land after sign-in, e.g. `callback_urls = [\"https://app.example.com/callback\"]`, or set `oauth_flows = []`");
        ok = false;
    }
    if oauth && !has_domain {
        diagnostics
            .error(
                format!("{path}.oauth_flows"),
                format!("client `{}` uses OAuth, but the user pool has no domain for the hosted UI", client.name),
            )
            .help("add `[stacks.<name>.domain]` (a prefix domain by default), or set `oauth_flows = []`");
        ok = false;
    }
    let has_urls = !client.callback_urls.is_empty() || !client.logout_urls.is_empty();
    if !oauth && has_urls {
        diagnostics
            .error(
                format!("{path}.callback_urls"),
                "callback and logout URLs are for OAuth flows, and this client has none",
            )
            .help("add `oauth_flows = [\"code\"]`, or remove the URLs");
        ok = false;
    }
    for (key, urls) in [
        ("callback_urls", &client.callback_urls),
        ("logout_urls", &client.logout_urls),
    ] {
        for (index, url) in urls.iter().enumerate() {
            if let Some(problem) = url_problem(url) {
                diagnostics
                    .error(
                        format!("{path}.{key}.{index}"),
                        format!("`{url}` {problem}"),
                    )
                    .help("use an `https://` URL (or `http://localhost:PORT/...` for development)");
                ok = false;
            }
        }
    }
    ok
}

/// What is wrong with a callback or logout URL, or `None`.
fn url_problem(url: &str) -> Option<&'static str> {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if host != "localhost" {
            return Some("is plain HTTP, which Cognito allows for `localhost` only");
        }
        rest
    } else {
        return Some("is not an `https://` URL");
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Some("has no host");
    }
    if url.contains('#') {
        return Some("has a fragment (`#`), which OAuth forbids");
    }
    if url.len() > 1024 || url.chars().any(char::is_whitespace) {
        return Some("is longer than 1024 characters or has spaces");
    }
    None
}

fn check_tokens(path: &str, client: &Client, diagnostics: &mut Diagnostics) -> bool {
    let mut ok = true;
    for (key, minutes) in [
        ("access_token_minutes", client.access_token_minutes),
        ("id_token_minutes", client.id_token_minutes),
    ] {
        if !TOKEN_MINUTES.contains(&minutes) {
            diagnostics
                .error(
                    format!("{path}.{key}"),
                    format!("`{minutes}` minutes is outside Cognito's 5 to 1440"),
                )
                .help("use e.g. `60`");
            ok = false;
        }
    }
    if !REFRESH_DAYS.contains(&client.refresh_token_days) {
        diagnostics
            .error(
                format!("{path}.refresh_token_days"),
                format!(
                    "`{}` days is outside Cognito's 1 to 3650",
                    client.refresh_token_days
                ),
            )
            .help("use e.g. `30`");
        ok = false;
    }
    let longest = client.access_token_minutes.max(client.id_token_minutes);
    if ok && client.refresh_token_days * 1440 <= longest {
        diagnostics
            .error(
                format!("{path}.refresh_token_days"),
                "a refresh token must outlive the access and ID tokens it renews",
            )
            .help("use `2` days or more, or shorter access and ID tokens");
        ok = false;
    }
    ok
}

//! The `[stacks.<name>]` table of an ses stack, and its validation into
//! [`Settings`]: the domain (written, or the hosted zone's), the MAIL FROM
//! subdomain, the configuration set's options and event types.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::check::{self, DomainWording};
use strata_sdk::{Context, Diagnostics};

/// Route 53's longest TTL.
const MAX_TTL: u32 = 2_147_483_647;

const WORDING: DomainWording = DomainWording {
    single_label: "it is a single label",
    misplaced_wildcard: " (an identity cannot be a wildcard)",
    help: "write the domain you send from, e.g. `example.com`",
};

/// An SES domain identity with Easy DKIM (its records written into the
/// hosted zone), a configuration set, and an optional custom MAIL FROM
/// domain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The hosted-zone stack whose zone gets the DKIM (and MAIL FROM)
    /// records; its `zone-id` is imported, and its `zone-name` when
    /// `domain` is not set.
    pub hosted_zone_stack: String,
    /// The domain to send from, e.g. `example.com` or `mail.example.com`.
    /// It must be in the hosted zone. Defaults to the zone's domain.
    pub domain: Option<String>,
    /// Length of the DKIM keys SES generates: `2048` or `1024` bits.
    pub dkim_key_bits: u32,
    /// A custom MAIL FROM domain, as a subdomain of `domain` (e.g. `bounce`
    /// for `bounce.example.com`): SPF then aligns with the sending domain,
    /// which DMARC needs. Its MX and SPF TXT records are written too.
    pub mail_from_subdomain: Option<String>,
    /// TTL of the records written, seconds.
    pub record_ttl: u32,
    /// Publish reputation metrics (bounce and complaint rates) to CloudWatch.
    pub reputation_metrics: bool,
    /// Require TLS to the receiving server, or use it when offered
    /// (`require` or `optional`).
    pub tls_policy: TlsPolicy,
    /// Put addresses that bounce or complain on the account-level
    /// suppression list for messages sent through this configuration set.
    pub suppress_bounces_and_complaints: bool,
    /// Events to publish as CloudWatch metrics (an event destination), e.g.
    /// `["send", "delivery", "bounce", "complaint", "reject"]`. Empty: no
    /// event destination. One of `send`, `reject`, `bounce`, `complaint`,
    /// `delivery`, `open`, `click`, `rendering-failure`, `delivery-delay`,
    /// `subscription`.
    pub cloudwatch_events: Vec<String>,
    /// Publish a DMARC policy for the domain (a `TXT` record at
    /// `_dmarc.{domain}`): `none` (monitor only), `quarantine` or `reject`.
    /// Unset: no DMARC record (the domain may publish its own).
    pub dmarc_policy: Option<DmarcPolicy>,
    /// Where receivers send aggregate DMARC reports (`rua=mailto:`), with
    /// `dmarc_policy`.
    pub dmarc_report_address: Option<String>,
    /// Single email addresses to verify as identities too, e.g. test
    /// recipients while the account's SES is in the sandbox (each gets a
    /// verification email).
    pub verified_addresses: Vec<String>,
}

/// What receivers do with mail failing DMARC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DmarcPolicy {
    /// Deliver, and report.
    None,
    /// Treat as suspicious (spam folder).
    Quarantine,
    /// Refuse.
    Reject,
}

impl DmarcPolicy {
    /// The `p=` value.
    pub fn as_tag(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hosted_zone_stack: "hosted-zone".into(),
            domain: None,
            dkim_key_bits: 2048,
            mail_from_subdomain: None,
            record_ttl: 1800,
            reputation_metrics: true,
            tls_policy: TlsPolicy::Require,
            suppress_bounces_and_complaints: true,
            cloudwatch_events: Vec::new(),
            dmarc_policy: None,
            dmarc_report_address: None,
            verified_addresses: Vec::new(),
        }
    }
}

/// Whether SES insists on TLS to the receiving server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsPolicy {
    /// `REQUIRE`: a message to a server without TLS is not delivered.
    Require,
    /// `OPTIONAL`: TLS when the server offers it.
    Optional,
}

/// Event types SES publishes: (config spelling, CloudFormation spelling).
pub const EVENT_TYPES: [(&str, &str); 10] = [
    ("send", "send"),
    ("reject", "reject"),
    ("bounce", "bounce"),
    ("complaint", "complaint"),
    ("delivery", "delivery"),
    ("open", "open"),
    ("click", "click"),
    ("rendering-failure", "renderingFailure"),
    ("delivery-delay", "deliveryDelay"),
    ("subscription", "subscription"),
];

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack whose zone holds the records.
    pub hosted_zone_stack: String,
    /// The domain as written, or `None` for the zone's.
    pub domain: Option<String>,
    /// `RSA_2048_BIT` or `RSA_1024_BIT`.
    pub dkim_key_length: &'static str,
    /// The MAIL FROM subdomain, relative to the domain.
    pub mail_from_subdomain: Option<String>,
    /// TTL of the records.
    pub record_ttl: u32,
    /// Reputation metrics on.
    pub reputation_metrics: bool,
    /// `REQUIRE` or `OPTIONAL`.
    pub tls_policy: &'static str,
    /// Suppress bounces and complaints.
    pub suppress_bounces_and_complaints: bool,
    /// CloudFormation's names of the events to publish.
    pub cloudwatch_events: Vec<&'static str>,
    /// The DMARC record's value, quoted, or `None`.
    pub dmarc: Option<String>,
    /// Addresses to verify, with their logical ids.
    pub verified_addresses: Vec<(String, String)>,
}

impl Config {
    /// Check every key, reporting all problems at once. On success, also
    /// returns the warnings.
    pub fn validate(self, _ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name(
            "hosted_zone_stack",
            &self.hosted_zone_stack,
            &mut diagnostics,
        );
        let domain = self.domain.as_deref().and_then(|raw| {
            let name = check::domain_name("domain", raw, &WORDING, &mut diagnostics)?;
            if name.starts_with("*.") {
                diagnostics
                    .error("domain", format!("`{raw}` is a wildcard"))
                    .help("an identity is one domain; write it without `*.`");
                return None;
            }
            Some(name.to_owned())
        });
        let dkim_key_length = match self.dkim_key_bits {
            2048 => "RSA_2048_BIT",
            1024 => "RSA_1024_BIT",
            bits => {
                diagnostics
                    .error(
                        "dkim_key_bits",
                        format!("SES makes DKIM keys of 1024 or 2048 bits, not `{bits}`"),
                    )
                    .help("use `2048`");
                "RSA_2048_BIT"
            }
        };
        if let Some(sub) = &self.mail_from_subdomain
            && let Some(problem) = subdomain_problem(sub)
        {
            diagnostics
                .error(
                    "mail_from_subdomain",
                    format!("`{sub}` is not a subdomain: {problem}"),
                )
                .help("write the part before the domain, e.g. `bounce` for `bounce.example.com`");
        }
        if self.record_ttl == 0 || self.record_ttl > MAX_TTL {
            diagnostics
                .error(
                    "record_ttl",
                    format!("`{}` seconds is outside 1 to 2147483647", self.record_ttl),
                )
                .help("use e.g. `1800`");
        }
        let events = self.check_events(&mut diagnostics);
        let dmarc = self.check_dmarc(&mut diagnostics);
        let verified_addresses = self.check_addresses(&mut diagnostics);
        diagnostics.check()?;
        Ok((
            Settings {
                hosted_zone_stack: self.hosted_zone_stack,
                domain,
                dkim_key_length,
                mail_from_subdomain: self.mail_from_subdomain,
                record_ttl: self.record_ttl,
                reputation_metrics: self.reputation_metrics,
                tls_policy: match self.tls_policy {
                    TlsPolicy::Require => "REQUIRE",
                    TlsPolicy::Optional => "OPTIONAL",
                },
                suppress_bounces_and_complaints: self.suppress_bounces_and_complaints,
                cloudwatch_events: events,
                dmarc,
                verified_addresses,
            },
            diagnostics,
        ))
    }

    fn check_events(&self, diagnostics: &mut Diagnostics) -> Vec<&'static str> {
        let names: Vec<&str> = EVENT_TYPES.iter().map(|(name, _)| *name).collect();
        let mut events = Vec::new();
        for (index, event) in self.cloudwatch_events.iter().enumerate() {
            let path = format!("cloudwatch_events.{index}");
            let Some((_, cfn)) = EVENT_TYPES.iter().find(|(name, _)| name == event) else {
                let help = match check::did_you_mean(event, &names) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!("one of `{}`", names.join("`, `")),
                };
                diagnostics
                    .error(path, format!("`{event}` is not an SES event type"))
                    .help(help);
                continue;
            };
            if events.contains(cfn) {
                diagnostics
                    .error(path, format!("`{event}` is listed twice"))
                    .help("remove the second one");
                continue;
            }
            events.push(*cfn);
        }
        events
    }
}

impl Config {
    fn check_dmarc(&self, diagnostics: &mut Diagnostics) -> Option<String> {
        if let Some(address) = &self.dmarc_report_address
            && !is_address(address)
        {
            diagnostics
                .error(
                    "dmarc_report_address",
                    format!("`{address}` is not an email address"),
                )
                .help("e.g. `dmarc-reports@example.com`");
        }
        let Some(policy) = self.dmarc_policy else {
            if self.dmarc_report_address.is_some() {
                diagnostics
                    .error(
                        "dmarc_report_address",
                        "`dmarc_report_address` needs `dmarc_policy`",
                    )
                    .help("add `dmarc_policy = \"none\"` to start by monitoring");
            }
            return None;
        };
        let mut value = format!("v=DMARC1; p={}", policy.as_tag());
        if let Some(address) = &self.dmarc_report_address {
            value.push_str(&format!("; rua=mailto:{address}"));
        }
        Some(format!("\"{value}\""))
    }

    fn check_addresses(&self, diagnostics: &mut Diagnostics) -> Vec<(String, String)> {
        let mut checked: Vec<(String, String)> = Vec::new();
        for (index, address) in self.verified_addresses.iter().enumerate() {
            let path = format!("verified_addresses.{index}");
            if !is_address(address) {
                diagnostics
                    .error(path, format!("`{address}` is not an email address"))
                    .help("write one address, e.g. `qa@example.com`");
                continue;
            }
            let logical_id = format!("{}AddressIdentity", strata_sdk::cfn::logical_id(address));
            if let Some((other, _)) = checked
                .iter()
                .find(|(a, id)| a == address || *id == logical_id)
            {
                let (message, help) = if other == address {
                    (
                        format!("`{address}` is listed twice"),
                        "remove the second one",
                    )
                } else {
                    (
                        format!(
                            "`{address}` and `{other}` would share the logical id `{logical_id}`"
                        ),
                        "verify one of them outside this stack",
                    )
                };
                diagnostics.error(path, message).help(help);
                continue;
            }
            checked.push((address.clone(), logical_id));
        }
        checked
    }
}

/// A plain `local@domain` address (what SES verifies), lowercase or not.
fn is_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && check::domain_name_problem(&domain.to_ascii_lowercase(), &WORDING).is_none()
        && !domain.contains('*')
}

/// What is wrong with a MAIL FROM subdomain (one or more labels before the
/// domain), or `None`.
fn subdomain_problem(sub: &str) -> Option<String> {
    if sub.is_empty() {
        return Some("it is empty".into());
    }
    for label in sub.split('.') {
        if let Err(rule) = check::name_rule(label, check::MAX_DOMAIN_LABEL) {
            return Some(format!("label `{label}`: {rule}"));
        }
    }
    None
}

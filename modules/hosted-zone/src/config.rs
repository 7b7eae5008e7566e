//! The `[stacks.<name>]` table of a hosted-zone stack, and its validation
//! into [`Settings`]: the domain normalised, every record resolved to an
//! absolute name with its values in Route 53's format.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, cfn, check};

use crate::dns::{self, Allow};

/// Record types this module writes.
pub const RECORD_TYPES: [&str; 7] = ["A", "AAAA", "CNAME", "TXT", "MX", "CAA", "NS"];
/// Route 53's longest TTL.
const MAX_TTL: u32 = 2_147_483_647;
/// Route 53's longest hosted zone comment.
const MAX_COMMENT: usize = 256;
/// Longest CloudFormation logical id.
const MAX_LOGICAL_ID: usize = 255;

/// A Route 53 public hosted zone for a domain (or an existing zone, adopted
/// by id) and the records in it. Every key defaults to empty; `domain` is
/// then reported missing.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The zone's domain, e.g. `example.com` or `dev.example.com`. Required.
    /// Lowercase; a trailing dot is accepted and dropped.
    pub domain: String,
    /// Adopt an existing hosted zone by id (e.g. `Z0123456789ABC`) instead of
    /// creating one: its records are added, the zone itself is left alone.
    /// `domain` must be the zone's name.
    pub existing_zone_id: Option<String>,
    /// Comment shown on the zone in Route 53 (at most 256 characters).
    /// Defaults to `{project}-{environment} DNS, managed by Strata`.
    pub comment: Option<String>,
    /// Records to create in the zone.
    pub records: Vec<Record>,
    /// Put the records and aliases in the zone of another hosted-zone stack
    /// of this environment (its `zone-id` is imported) instead of creating
    /// one. `domain` must be that zone's domain. Such a stack exports
    /// nothing (read the zone from its own stack). This is how alias records
    /// to a load balancer or CloudFront live beside a zone that the
    /// certificate stack validates in: the zone's own stack cannot import
    /// from the compute stack, which imports the certificate, which imports
    /// the zone (a cycle).
    pub zone_stack: Option<String>,
    /// Alias records (`A`, and `AAAA` where the target serves IPv6) pointing
    /// a name at another stack's load balancer or CloudFront distribution.
    pub aliases: Vec<Alias>,
}

/// An alias record: a name in the zone answering with the addresses of
/// another stack's load balancer or CloudFront distribution.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Alias {
    /// Name of the record: relative to the domain (`api`), `@` for the
    /// domain itself, or absolute within the domain (`api.example.com`).
    pub name: String,
    /// What the name points at.
    pub target: AliasTarget,
    /// Also write an `AAAA` alias. Defaults to `true` for `cloudfront`
    /// (distributions serve IPv6) and `false` for `load-balancer` (the
    /// compute stack's load balancer is IPv4-only).
    pub ipv6: Option<bool>,
}

/// The stack an alias points at, and what kind of target it exports.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AliasTarget {
    /// The stack of this environment exporting the target, e.g. `compute`
    /// or `frontend`.
    pub stack: String,
    /// `load-balancer` (a compute stack's ALB: imports `alb-dns-name` and
    /// `alb-hosted-zone-id`), `cloudfront` (a frontend stack's
    /// distribution: imports `distribution-domain-name`; CloudFront's
    /// alias zone is always `Z2FDTNDATAQYW2`) or `api-gateway` (an
    /// http-api stack's custom domain: imports `domain-target` and
    /// `domain-hosted-zone-id`).
    pub kind: AliasKind,
    /// The output holding the target's DNS name, when it is not the
    /// kind's usual one (`alb-dns-name`, `distribution-domain-name`).
    pub output: Option<String>,
}

/// What an alias points at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AliasKind {
    /// An application load balancer of a compute stack.
    #[default]
    LoadBalancer,
    /// A CloudFront distribution (a frontend stack, or a Cognito custom
    /// domain).
    Cloudfront,
    /// The regional custom domain of an API Gateway HTTP API (an http-api
    /// stack).
    ApiGateway,
}

impl AliasKind {
    /// The output holding the target's DNS name, by default.
    pub fn dns_name_output(self) -> &'static str {
        match self {
            Self::LoadBalancer => "alb-dns-name",
            Self::Cloudfront => "distribution-domain-name",
            Self::ApiGateway => "domain-target",
        }
    }
}

/// CloudFront's hosted zone, the same for every distribution.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";
/// The output of a compute stack holding its load balancer's hosted zone.
pub const ALB_ZONE_OUTPUT: &str = "alb-hosted-zone-id";
/// The output of an http-api stack holding its custom domain's hosted zone.
pub const API_ZONE_OUTPUT: &str = "domain-hosted-zone-id";

/// One record set: every value of one name and type.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Record {
    /// Name of the record: relative to the domain (`api`, `*.api`,
    /// `_dmarc`), `@` for the domain itself, or absolute within the domain
    /// (`api.example.com`, with or without a trailing dot).
    pub name: String,
    /// Record type: `A`, `AAAA`, `CNAME`, `TXT`, `MX`, `CAA` or `NS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The values: addresses (`A`, `AAAA`), a host name (`CNAME`, one value),
    /// text (`TXT`, quoted for you unless already quoted), `priority host`
    /// (`MX`), `flags tag "value"` (`CAA`), name servers (`NS`, to delegate a
    /// subdomain).
    pub values: Vec<String>,
    /// Seconds resolvers may cache the record.
    pub ttl: u32,
}

impl Default for Record {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: String::new(),
            values: Vec::new(),
            ttl: 300,
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The domain, lowercase, without a trailing dot.
    pub domain: String,
    /// The adopted zone's id, or `None` to create a zone.
    pub existing_zone_id: Option<String>,
    /// The zone's comment.
    pub comment: String,
    /// The record sets, in the order written.
    pub records: Vec<RecordSet>,
    /// The hosted-zone stack whose zone holds the records, or `None`.
    pub zone_stack: Option<String>,
    /// The alias record sets, in the order written.
    pub aliases: Vec<AliasSet>,
}

/// One alias, ready to render: an `A` record set, and an `AAAA` one when
/// `ipv6`.
#[derive(Debug, Clone)]
pub struct AliasSet {
    /// Logical id of the `A` record; the `AAAA` one's ends in `Aaaa`
    /// instead of `A`.
    pub logical_id: String,
    /// Absolute name, without a trailing dot.
    pub name: String,
    /// The stack exporting the target.
    pub stack: String,
    /// The kind of target.
    pub kind: AliasKind,
    /// The output holding the target's DNS name.
    pub dns_name_output: String,
    /// Whether an `AAAA` alias is written too.
    pub ipv6: bool,
}

impl AliasSet {
    /// Logical id of the `AAAA` record.
    pub fn ipv6_logical_id(&self) -> String {
        format!("{}aaa", self.logical_id)
    }
}

/// One record set, ready to render.
#[derive(Debug, Clone)]
pub struct RecordSet {
    /// Its logical id, from its name and type (stable when records are
    /// reordered, so CloudFormation does not replace them).
    pub logical_id: String,
    /// Absolute name, without a trailing dot.
    pub name: String,
    /// Record type, e.g. `A`.
    pub kind: &'static str,
    /// Values in Route 53's presentation format.
    pub values: Vec<String>,
    /// TTL in seconds.
    pub ttl: u32,
}

impl Config {
    /// Check every key, reporting all problems at once. On success, also
    /// returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let domain = check_domain(&self.domain, &mut diagnostics);
        let existing_zone_id = self
            .existing_zone_id
            .as_deref()
            .and_then(|id| check_zone_id(id, &mut diagnostics));
        self.check_comment(&mut diagnostics);
        let zone_stack = self.check_zone_stack(ctx, &mut diagnostics);
        let records = self.check_records(domain.as_deref(), &mut diagnostics);
        let aliases = self.check_aliases(ctx, domain.as_deref(), &records, &mut diagnostics);
        diagnostics.check()?;

        let settings = Settings {
            domain: domain.unwrap_or_default(),
            existing_zone_id,
            comment: self.comment.unwrap_or_else(|| {
                format!("{}-{} DNS, managed by Strata", ctx.project, ctx.environment)
            }),
            records,
            zone_stack,
            aliases,
        };
        Ok((settings, diagnostics))
    }

    fn check_zone_stack(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> Option<String> {
        let stack = self.zone_stack.as_ref()?;
        if !check::stack_name("zone_stack", stack, diagnostics) {
            return None;
        }
        if *stack == ctx.stack {
            diagnostics
                .error("zone_stack", format!("`zone_stack` names this stack, `{stack}`"))
                .help("name the hosted-zone stack that owns the zone, e.g. `hosted-zone`, or remove `zone_stack` to create one here");
            return None;
        }
        if self.existing_zone_id.is_some() {
            diagnostics
                .error(
                    "zone_stack",
                    "`zone_stack` and `existing_zone_id` both name the zone",
                )
                .help("keep one: `zone_stack` imports the zone of another stack, `existing_zone_id` adopts one by id");
            return None;
        }
        if self.comment.is_some() {
            diagnostics
                .warning(
                    "comment",
                    "`comment` is ignored when the zone belongs to another stack",
                )
                .help(format!("set the comment in stack `{stack}`"));
        }
        Some(stack.clone())
    }

    fn check_aliases(
        &self,
        ctx: &Context,
        domain: Option<&str>,
        records: &[RecordSet],
        diagnostics: &mut Diagnostics,
    ) -> Vec<AliasSet> {
        let mut sets: Vec<AliasSet> = Vec::new();
        for (index, alias) in self.aliases.iter().enumerate() {
            let path = format!("aliases.{index}");
            let stack_ok = if alias.target.stack.is_empty() {
                diagnostics
                    .error(format!("{path}.target.stack"), "an alias needs a target `stack`")
                    .help("name the stack exporting the target, e.g. `target = { stack = \"compute\", kind = \"load-balancer\" }`");
                false
            } else if alias.target.stack == ctx.stack {
                diagnostics
                    .error(
                        format!("{path}.target.stack"),
                        format!("an alias cannot point at its own stack, `{}`", ctx.stack),
                    )
                    .help("name the compute or frontend stack exporting the target");
                false
            } else {
                check::stack_name(
                    &format!("{path}.target.stack"),
                    &alias.target.stack,
                    diagnostics,
                )
            };
            let output = alias
                .target
                .output
                .clone()
                .unwrap_or_else(|| alias.target.kind.dns_name_output().to_owned());
            let output_ok = check::is_name(&output, 64);
            if !output_ok {
                diagnostics
                    .error(
                        format!("{path}.target.output"),
                        format!("`{output}` is not an output name"),
                    )
                    .help(
                        "name an output the target stack exports, e.g. `distribution-domain-name`",
                    );
            }
            let name = domain
                .and_then(|domain| check_record_name(&path, &alias.name, domain, diagnostics));
            let (Some((name, relative)), true, true) = (name, stack_ok, output_ok) else {
                continue;
            };
            let ipv6 = alias
                .ipv6
                .unwrap_or(alias.target.kind == AliasKind::Cloudfront);
            if let Some(problem) = alias_clash(&name, ipv6, records, &sets) {
                diagnostics
                    .error(format!("{path}.name"), problem)
                    .help("an alias answers for its name and type alone; remove the other record or alias");
                continue;
            }
            let id_name = if relative.is_empty() {
                "Apex".to_owned()
            } else {
                cfn::logical_id(&relative.replace('*', "wildcard"))
            };
            let mut logical_id = format!("Alias{id_name}A");
            if logical_id.len() > MAX_LOGICAL_ID - 3
                || sets.iter().any(|set| set.logical_id == logical_id)
            {
                logical_id = format!("AliasN{index}A");
            }
            sets.push(AliasSet {
                logical_id,
                name,
                stack: alias.target.stack.clone(),
                kind: alias.target.kind,
                dns_name_output: output,
                ipv6,
            });
        }
        sets
    }

    fn check_comment(&self, diagnostics: &mut Diagnostics) {
        let Some(comment) = &self.comment else {
            return;
        };
        if comment.chars().count() > MAX_COMMENT {
            diagnostics
                .error(
                    "comment",
                    format!(
                        "the comment is {} characters long, Route 53 keeps at most 256",
                        comment.chars().count()
                    ),
                )
                .help("shorten it");
        }
        if let Some(id) = &self.existing_zone_id {
            diagnostics
                .warning(
                    "comment",
                    "`comment` is ignored when adopting an existing zone",
                )
                .help(format!(
                    "edit the comment of zone `{id}` in Route 53, or remove `comment`"
                ));
        }
    }

    fn check_records(&self, domain: Option<&str>, diagnostics: &mut Diagnostics) -> Vec<RecordSet> {
        let mut sets: Vec<RecordSet> = Vec::new();
        for (index, record) in self.records.iter().enumerate() {
            let path = format!("records.{index}");
            let kind = check_type(&path, &record.kind, diagnostics);
            let name = domain
                .and_then(|domain| check_record_name(&path, &record.name, domain, diagnostics));
            let values = check_values(&path, kind, &record.values, diagnostics);
            if record.ttl > MAX_TTL {
                diagnostics
                    .error(
                        format!("{path}.ttl"),
                        format!(
                            "`{}` seconds is above Route 53's limit of 2147483647",
                            record.ttl
                        ),
                    )
                    .help("use e.g. `300` (5 minutes) or `3600` (an hour)");
            }
            let (Some(kind), Some((name, relative))) = (kind, name) else {
                continue;
            };
            check_placement(
                &path,
                kind,
                &name,
                domain.unwrap_or_default(),
                &sets,
                diagnostics,
            );
            let logical_id = logical_id(&relative, kind, index, &sets);
            sets.push(RecordSet {
                logical_id,
                name,
                kind,
                values,
                ttl: record.ttl,
            });
        }
        sets
    }
}

/// What is wrong with an alias at `name` among the records and the
/// aliases before it, or `None`.
fn alias_clash(
    name: &str,
    ipv6: bool,
    records: &[RecordSet],
    earlier: &[AliasSet],
) -> Option<String> {
    if earlier.iter().any(|alias| alias.name == name) {
        return Some(format!("`{name}` has two aliases"));
    }
    let clash = records.iter().find(|record| {
        record.name == name
            && (record.kind == "CNAME" || record.kind == "A" || (ipv6 && record.kind == "AAAA"))
    })?;
    Some(format!(
        "`{name}` has an alias and a `{}` record in `records`",
        clash.kind
    ))
}

/// The domain without its trailing dot, or `None` (with an error).
fn check_domain(raw: &str, diagnostics: &mut Diagnostics) -> Option<String> {
    if raw.is_empty() {
        diagnostics
            .error("domain", "a hosted zone needs a `domain`")
            .help("add the zone's domain name, e.g. `domain = \"example.com\"`");
        return None;
    }
    let domain = match raw.strip_suffix('.') {
        Some(stripped) => {
            diagnostics
                .warning("domain", format!("the trailing dot of `{raw}` is dropped"))
                .help(format!("write `{stripped}`; Route 53 adds the dot"));
            stripped
        }
        None => raw,
    };
    if let Some(problem) = dns::name_problem(domain, Allow::HOST) {
        let lower = domain.to_ascii_lowercase();
        let help = if lower != domain && dns::name_problem(&lower, Allow::HOST).is_none() {
            format!("write `{lower}`")
        } else {
            "write a domain name such as `example.com`: labels of letters, digits and hyphens, separated by dots".into()
        };
        diagnostics
            .error(
                "domain",
                format!("`{raw}` is not a valid domain name: {problem}"),
            )
            .help(help);
        return None;
    }
    if !domain.contains('.') {
        diagnostics
            .error("domain", format!("`{domain}` is a top-level domain"))
            .help("a hosted zone is for a domain such as `example.com` or `dev.example.com`");
        return None;
    }
    Some(domain.to_owned())
}

/// Route 53 hosted zone ids: `Z` and up to 31 uppercase letters and digits.
fn check_zone_id(id: &str, diagnostics: &mut Diagnostics) -> Option<String> {
    let valid = (2..=32).contains(&id.len())
        && id.starts_with('Z')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        return Some(id.to_owned());
    }
    let bare = id
        .strip_prefix("/hostedzone/")
        .unwrap_or(id)
        .to_ascii_uppercase();
    let help = if bare != id && bare.starts_with('Z') {
        format!("write the bare id, `{bare}`")
    } else {
        "write the zone's id as Route 53 shows it, e.g. `Z0123456789ABC` (`aws route53 list-hosted-zones-by-name`)"
            .to_owned()
    };
    diagnostics
        .error(
            "existing_zone_id",
            format!("`{id}` is not a Route 53 hosted zone id"),
        )
        .help(help);
    None
}

fn check_type(path: &str, kind: &str, diagnostics: &mut Diagnostics) -> Option<&'static str> {
    if let Some(known) = RECORD_TYPES.iter().find(|t| **t == kind) {
        return Some(known);
    }
    let path = format!("{path}.type");
    if kind.is_empty() {
        diagnostics
            .error(path, "a record needs a `type`")
            .help("one of `A`, `AAAA`, `CNAME`, `TXT`, `MX`, `CAA`, `NS`");
        return None;
    }
    let help = match check::did_you_mean(kind, &RECORD_TYPES) {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => "one of `A`, `AAAA`, `CNAME`, `TXT`, `MX`, `CAA`, `NS`".to_owned(),
    };
    diagnostics
        .error(
            path,
            format!("`{kind}` is not a record type this module writes"),
        )
        .help(help);
    None
}

/// The absolute name of a record and its part relative to the domain
/// (`""` for the apex), or `None` (with an error).
fn check_record_name(
    path: &str,
    raw: &str,
    domain: &str,
    diagnostics: &mut Diagnostics,
) -> Option<(String, String)> {
    let path = format!("{path}.name");
    if raw.is_empty() {
        diagnostics
            .error(path, "a record needs a `name`")
            .help(format!("write it relative to the domain (`api` for `api.{domain}`), or `@` for `{domain}` itself"));
        return None;
    }
    let suffix = format!(".{domain}");
    let (absolute, relative) = if raw == "@" {
        (domain.to_owned(), String::new())
    } else {
        let trimmed = raw.strip_suffix('.');
        let name = trimmed.unwrap_or(raw);
        if name == domain {
            (domain.to_owned(), String::new())
        } else if let Some(relative) = name.strip_suffix(&suffix) {
            (name.to_owned(), relative.to_owned())
        } else if trimmed.is_some() {
            diagnostics
                .error(path, format!("`{raw}` is outside the zone `{domain}`"))
                .help(format!(
                    "write a name in the zone, relative (`api`) or absolute (`api.{domain}`)"
                ));
            return None;
        } else {
            (format!("{name}{suffix}"), name.to_owned())
        }
    };
    if let Some(problem) = dns::name_problem(&absolute, Allow::RECORD) {
        diagnostics
            .error(path, format!("`{raw}` is not a valid record name: {problem}"))
            .help("use lowercase labels of letters, digits, hyphens and underscores, `*` as the first label of a wildcard, or `@`");
        return None;
    }
    Some((absolute, relative))
}

/// The values of a record in Route 53's format; errors land on each value.
fn check_values(
    path: &str,
    kind: Option<&str>,
    values: &[String],
    diagnostics: &mut Diagnostics,
) -> Vec<String> {
    if values.is_empty() {
        diagnostics
            .error(
                format!("{path}.values"),
                "a record needs at least one value",
            )
            .help("e.g. `values = [\"192.0.2.10\"]` for an `A` record");
        return Vec::new();
    }
    let Some(kind) = kind else {
        return values.to_vec();
    };
    if kind == "CNAME" && values.len() > 1 {
        diagnostics
            .error(
                format!("{path}.values"),
                format!(
                    "a `CNAME` record has exactly one value, got {}",
                    values.len()
                ),
            )
            .help("point the name at one host; use `A`/`AAAA` records for several addresses");
    }
    for (index, value) in values.iter().enumerate() {
        if values[..index].contains(value) {
            diagnostics
                .error(
                    format!("{path}.values.{index}"),
                    format!("`{value}` is listed twice"),
                )
                .help("remove the duplicate");
            continue;
        }
        let problem = match kind {
            "A" => dns::ipv4_problem(value),
            "AAAA" => dns::ipv6_problem(value),
            "CNAME" | "NS" => dns::target_problem(value),
            "MX" => dns::mx_problem(value),
            "CAA" => dns::caa_problem(value),
            _ => None,
        };
        if let Some(problem) = problem {
            diagnostics.error(
                format!("{path}.values.{index}"),
                format!("`{value}` {problem}"),
            );
        }
    }
    if kind == "TXT" {
        values.iter().map(|value| dns::quote_txt(value)).collect()
    } else {
        values.to_vec()
    }
}

/// Rules about where a record may sit, among the zone and the records
/// before it.
fn check_placement(
    path: &str,
    kind: &str,
    name: &str,
    domain: &str,
    earlier: &[RecordSet],
    diagnostics: &mut Diagnostics,
) {
    let path = format!("{path}.name");
    let apex = name == domain;
    if apex && kind == "CNAME" {
        diagnostics
            .error(
                path,
                format!("a `CNAME` record cannot be at the zone apex `{domain}`"),
            )
            .help("the apex holds the zone's SOA and NS records; use `A`/`AAAA` records there");
        return;
    }
    if apex && kind == "NS" {
        diagnostics
            .error(
                path,
                format!("the `NS` records of the apex `{domain}` are Route 53's own"),
            )
            .help("`NS` records delegate a subdomain, e.g. `name = \"dev\"`");
        return;
    }
    if let Some(index) = earlier
        .iter()
        .position(|set| set.name == name && set.kind == kind)
    {
        diagnostics
            .error(
                path,
                format!("`{kind}` record `{name}` is listed twice (first as record {index})"),
            )
            .help("put all its values in one record");
        return;
    }
    let cname_clash = earlier
        .iter()
        .any(|set| set.name == name && (set.kind == "CNAME" || kind == "CNAME"));
    if cname_clash {
        diagnostics
            .error(path, format!("`{name}` has a `CNAME` record and other records"))
            .help("a `CNAME` must be the only record of its name; point the others at the target instead");
    }
}

/// `Record{Name}{Type}`, e.g. `RecordApiA`, `RecordApexMx`,
/// `RecordWildcardApiCname`. When two names fold to the same id (`a-b` and
/// `a.b`) or the id would be too long: `Record{Type}N{index}`, which no
/// name gives (those end with the type, never with a digit).
fn logical_id(relative: &str, kind: &str, index: usize, earlier: &[RecordSet]) -> String {
    let name = if relative.is_empty() {
        "Apex".to_owned()
    } else {
        cfn::logical_id(&relative.replace('*', "wildcard"))
    };
    let kind = cfn::logical_id(&kind.to_ascii_lowercase());
    let id = format!("Record{name}{kind}");
    let taken = earlier.iter().any(|set| set.logical_id == id);
    if taken || id.len() > MAX_LOGICAL_ID {
        format!("Record{kind}N{index}")
    } else {
        id
    }
}

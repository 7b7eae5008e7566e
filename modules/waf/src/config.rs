//! The `[stacks.<name>]` table of a waf stack, and its validation into
//! [`Settings`]: the environment's log retention resolved, every rule group
//! and country checked.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// Requests per IP per 5 minutes WAF's rate-based rules accept (our floor
/// is above WAF's 10: a lower limit blocks ordinary browsing).
const RATE_LIMIT: std::ops::RangeInclusive<u64> = 100..=2_000_000_000;
/// Web ACL capacity units included in the base price.
const INCLUDED_WCU: u32 = 1500;
/// WCUs of the rate-based rule and of the country rule.
const RATE_RULE_WCU: u32 = 2;
const GEO_RULE_WCU: u32 = 1;
/// Longest web ACL name and metric name.
const MAX_NAME: usize = 128;

/// An AWS managed rule group this module adds, with its capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedGroup {
    /// The group's name, e.g. `AWSManagedRulesCommonRuleSet`.
    pub name: &'static str,
    /// Web ACL capacity units it uses.
    pub wcu: u32,
}

/// The AWS managed rule groups that need no configuration (Bot Control's
/// inspection level is set to `COMMON` for you).
pub const MANAGED_GROUPS: [ManagedGroup; 12] = [
    ManagedGroup {
        name: "AWSManagedRulesCommonRuleSet",
        wcu: 700,
    },
    ManagedGroup {
        name: "AWSManagedRulesAdminProtectionRuleSet",
        wcu: 100,
    },
    ManagedGroup {
        name: "AWSManagedRulesKnownBadInputsRuleSet",
        wcu: 200,
    },
    ManagedGroup {
        name: "AWSManagedRulesSQLiRuleSet",
        wcu: 200,
    },
    ManagedGroup {
        name: "AWSManagedRulesLinuxRuleSet",
        wcu: 200,
    },
    ManagedGroup {
        name: "AWSManagedRulesUnixRuleSet",
        wcu: 100,
    },
    ManagedGroup {
        name: "AWSManagedRulesWindowsRuleSet",
        wcu: 200,
    },
    ManagedGroup {
        name: "AWSManagedRulesPHPRuleSet",
        wcu: 100,
    },
    ManagedGroup {
        name: "AWSManagedRulesWordPressRuleSet",
        wcu: 100,
    },
    ManagedGroup {
        name: "AWSManagedRulesAmazonIpReputationList",
        wcu: 25,
    },
    ManagedGroup {
        name: "AWSManagedRulesAnonymousIpList",
        wcu: 50,
    },
    ManagedGroup {
        name: "AWSManagedRulesBotControlRuleSet",
        wcu: 50,
    },
];

/// AWS managed rule groups that need application-specific configuration
/// (login and registration pages, challenge settings) this module does not
/// take.
const CONFIGURED_GROUPS: [&str; 3] = [
    "AWSManagedRulesATPRuleSet",
    "AWSManagedRulesACFPRuleSet",
    "AWSManagedRulesAntiDDoSRuleSet",
];

/// ISO 3166-1 alpha-2 codes WAF matches on (with `XK`, Kosovo).
const COUNTRY_CODES: [&str; 250] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A regional WAF web ACL in front of the compute stack's load balancer:
/// a per-IP rate limit, optional country blocking and AWS managed rule
/// groups, logged to CloudWatch Logs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the compute stack whose load balancer (`alb-arn`) the web ACL
    /// protects; `""` creates the web ACL without associating it.
    pub compute_stack: String,
    /// Requests one IP may make in 5 minutes before it is blocked (100 to
    /// 2000000000).
    pub rate_limit: u64,
    /// AWS managed rule groups to apply, in order, e.g.
    /// `AWSManagedRulesCommonRuleSet`, `AWSManagedRulesSQLiRuleSet`,
    /// `AWSManagedRulesLinuxRuleSet`, `AWSManagedRulesAnonymousIpList`.
    pub managed_rule_groups: Vec<String>,
    /// Per-rule actions overriding a managed group's own, by group and rule
    /// name: `count`, `block`, `allow`, `challenge` or `captcha`, e.g.
    /// `{ AWSManagedRulesCommonRuleSet = { SizeRestrictions_BODY = "count" } }`
    /// to let bodies over 8 KB through while still counting them.
    pub rule_overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// Countries to block, as uppercase ISO 3166-1 alpha-2 codes (`"RU"`).
    pub blocked_countries: Vec<String>,
    /// Log requests WAF inspects to the CloudWatch log group
    /// `aws-waf-logs-{project}-{environment}`.
    pub logging: bool,
    /// Days to keep the logs (a CloudWatch Logs retention period). Defaults
    /// to 7, 30 in staging and 90 in production.
    pub log_retention_days: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            compute_stack: "compute".into(),
            rate_limit: 2000,
            managed_rule_groups: [
                "AWSManagedRulesCommonRuleSet",
                "AWSManagedRulesKnownBadInputsRuleSet",
                "AWSManagedRulesAmazonIpReputationList",
                "AWSManagedRulesSQLiRuleSet",
            ]
            .map(String::from)
            .to_vec(),
            rule_overrides: BTreeMap::new(),
            blocked_countries: Vec::new(),
            logging: true,
            log_retention_days: None,
        }
    }
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack whose load balancer to associate, or `None`.
    pub compute_stack: Option<String>,
    /// Requests per IP per 5 minutes.
    pub rate_limit: u64,
    /// Managed rule groups, in order.
    pub managed_rule_groups: Vec<ManagedGroup>,
    /// Rule action overrides by group name: `(rule, action)`, the action
    /// capitalised as WAF spells it (`Count`).
    pub rule_overrides: BTreeMap<String, Vec<(String, &'static str)>>,
    /// Countries to block.
    pub blocked_countries: Vec<String>,
    /// Log retention in days, or `None` when logging is off.
    pub log_retention_days: Option<u32>,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        if !self.compute_stack.is_empty() {
            check::stack_name("compute_stack", &self.compute_stack, &mut diagnostics);
        }
        self.check_rate_limit(&mut diagnostics);
        let managed_rule_groups = self.check_managed_rule_groups(ctx, &mut diagnostics);
        let rule_overrides = self.check_rule_overrides(&mut diagnostics);
        self.check_blocked_countries(&mut diagnostics);
        self.check_logging(ctx, &mut diagnostics);
        check_names(ctx, &mut diagnostics);
        diagnostics.check()?;

        let wcu = RATE_RULE_WCU
            + if self.blocked_countries.is_empty() {
                0
            } else {
                GEO_RULE_WCU
            }
            + managed_rule_groups
                .iter()
                .map(|group| group.wcu)
                .sum::<u32>();
        if wcu > INCLUDED_WCU {
            diagnostics
                .warning(
                    "managed_rule_groups",
                    format!("the rules use {wcu} capacity units (WCUs), above the {INCLUDED_WCU} the base price includes"),
                )
                .help("every 500 WCUs above 1500 add a charge per million requests; drop groups your application does not need");
        }

        let log_retention_days = self.logging.then(|| {
            self.log_retention_days
                .unwrap_or_else(|| check::default_log_retention_days(ctx))
        });
        let settings = Settings {
            compute_stack: Some(self.compute_stack).filter(|stack| !stack.is_empty()),
            rate_limit: self.rate_limit,
            managed_rule_groups,
            rule_overrides,
            blocked_countries: self.blocked_countries,
            log_retention_days,
        };
        Ok((settings, diagnostics))
    }

    fn check_rule_overrides(
        &self,
        diagnostics: &mut Diagnostics,
    ) -> BTreeMap<String, Vec<(String, &'static str)>> {
        const ACTIONS: [(&str, &str); 5] = [
            ("count", "Count"),
            ("block", "Block"),
            ("allow", "Allow"),
            ("challenge", "Challenge"),
            ("captcha", "Captcha"),
        ];
        let mut overrides = BTreeMap::new();
        for (group, rules) in &self.rule_overrides {
            if !self.managed_rule_groups.contains(group) {
                let listed: Vec<&str> = self
                    .managed_rule_groups
                    .iter()
                    .map(String::as_str)
                    .collect();
                let help = match check::did_you_mean(group, &listed) {
                    Some(name) => format!("did you mean `{name}`?"),
                    None => "override rules of a group listed in `managed_rule_groups`".to_owned(),
                };
                diagnostics
                    .error(
                        format!("rule_overrides.{group}"),
                        format!("`{group}` is not in `managed_rule_groups`"),
                    )
                    .help(help);
                continue;
            }
            let mut checked = Vec::new();
            for (rule, action) in rules {
                let path = format!("rule_overrides.{group}.{rule}");
                let valid_name = !rule.is_empty()
                    && rule.len() <= 128
                    && rule
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
                if !valid_name {
                    diagnostics
                        .error(path.clone(), format!("`{rule}` is not a rule name"))
                        .help("use the rule's name as AWS lists it, e.g. `SizeRestrictions_BODY`");
                }
                match ACTIONS.iter().find(|(name, _)| name == action) {
                    Some((_, waf)) if valid_name => checked.push((rule.clone(), *waf)),
                    Some(_) => {}
                    None => {
                        diagnostics
                            .error(path, format!("`{action}` is not a rule action"))
                            .help("use `count`, `block`, `allow`, `challenge` or `captcha`");
                    }
                }
            }
            overrides.insert(group.clone(), checked);
        }
        overrides
    }

    fn check_rate_limit(&self, diagnostics: &mut Diagnostics) {
        let limit = self.rate_limit;
        if limit < *RATE_LIMIT.start() {
            diagnostics
                .error("rate_limit", format!("`{limit}` requests per 5 minutes is below 100"))
                .help("a page load can take dozens of requests; use at least `100` (the default is `2000`)");
        } else if limit > *RATE_LIMIT.end() {
            diagnostics
                .error(
                    "rate_limit",
                    format!("`{limit}` is above WAF's limit of 2000000000"),
                )
                .help("use at most `2000000000`, or drop the rate limit by raising it that far");
        }
    }

    fn check_managed_rule_groups(
        &self,
        ctx: &Context,
        diagnostics: &mut Diagnostics,
    ) -> Vec<ManagedGroup> {
        let known: Vec<&str> = MANAGED_GROUPS.iter().map(|group| group.name).collect();
        let mut groups = Vec::new();
        for (index, name) in self.managed_rule_groups.iter().enumerate() {
            let path = format!("managed_rule_groups.{index}");
            if self.managed_rule_groups[..index].contains(name) {
                diagnostics
                    .error(path, format!("`{name}` is listed twice"))
                    .help("remove the duplicate");
                continue;
            }
            if let Some(group) = MANAGED_GROUPS.iter().find(|group| group.name == name) {
                groups.push(*group);
                continue;
            }
            if CONFIGURED_GROUPS.contains(&name.as_str()) {
                diagnostics
                    .error(path, format!("`{name}` needs configuration this module does not take"))
                    .help("it inspects your login, sign-up or challenge pages; configure it in a web ACL of your own");
                continue;
            }
            let prefixed = format!("AWSManagedRules{name}");
            let suggestion = known
                .iter()
                .find(|known| **known == prefixed)
                .copied()
                .or_else(|| check::did_you_mean(name, &known));
            let help = match suggestion {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => "use an AWS managed rule group such as `AWSManagedRulesCommonRuleSet`, `AWSManagedRulesSQLiRuleSet` \
                         or `AWSManagedRulesLinuxRuleSet`"
                    .to_owned(),
            };
            diagnostics
                .error(
                    path,
                    format!("`{name}` is not an AWS managed rule group this module knows"),
                )
                .help(help);
        }
        if self.managed_rule_groups.is_empty() && ctx.is_production() {
            diagnostics
                .warning("managed_rule_groups", "no managed rule groups in production: only the rate limit applies")
                .help("keep at least `AWSManagedRulesCommonRuleSet` and `AWSManagedRulesKnownBadInputsRuleSet`");
        }
        groups
    }

    fn check_blocked_countries(&self, diagnostics: &mut Diagnostics) {
        for (index, code) in self.blocked_countries.iter().enumerate() {
            let path = format!("blocked_countries.{index}");
            let upper = code.to_ascii_uppercase();
            if self.blocked_countries[..index].contains(code) {
                diagnostics
                    .error(path, format!("`{code}` is listed twice"))
                    .help("remove the duplicate");
            } else if COUNTRY_CODES.contains(&code.as_str()) {
                continue;
            } else if COUNTRY_CODES.contains(&upper.as_str()) {
                diagnostics
                    .error(path, format!("`{code}` is not uppercase"))
                    .help(format!("write `{upper}`"));
            } else if upper == "UK" {
                diagnostics
                    .error(path, format!("`{code}` is not an ISO 3166 country code"))
                    .help("the United Kingdom's code is `GB`");
            } else {
                diagnostics
                    .error(path, format!("`{code}` is not an ISO 3166 country code"))
                    .help("use two-letter ISO 3166-1 alpha-2 codes such as `DE` or `US`");
            }
        }
    }

    fn check_logging(&self, ctx: &Context, diagnostics: &mut Diagnostics) {
        if !self.logging {
            if self.log_retention_days.is_some() {
                diagnostics
                    .warning(
                        "log_retention_days",
                        "`log_retention_days` is ignored with `logging = false`",
                    )
                    .help("remove it, or turn `logging` on");
            }
            if ctx.is_production() {
                diagnostics
                    .warning("logging", "WAF logging is off in production")
                    .help("without logs, blocked requests cannot be explained; remove `logging = false`");
            }
            return;
        }
        if let Some(days) = self.log_retention_days {
            check::log_retention("log_retention_days", days, diagnostics);
        }
    }
}

/// The web ACL's name and metric names come from the project and
/// environment: WAF takes at most 128 letters, digits, `_` and `-`.
fn check_names(ctx: &Context, diagnostics: &mut Diagnostics) {
    let longest_group = MANAGED_GROUPS
        .iter()
        .map(|group| group.name.len())
        .max()
        .unwrap_or_default();
    let longest = ctx.name("web-acl-").len() + longest_group;
    let name = ctx.name("web-acl");
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_chars || longest > MAX_NAME {
        diagnostics
            .error("", format!("`{name}` cannot name a web ACL and its metrics"))
            .help(format!(
                "WAF needs names of at most {MAX_NAME} letters, digits, `_` and `-`; shorten the project or environment name"
            ));
    }
}

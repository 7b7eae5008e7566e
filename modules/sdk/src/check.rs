//! Checks that several modules make on their config, with the host's rules
//! and wording, so users see the same message whichever module reports it.
//!
//! ```
//! use strata_module_sdk::{Diagnostics, check};
//!
//! let mut diagnostics = Diagnostics::new();
//! check::stack_name("networking_stack", "Networking", &mut diagnostics);
//! let error = diagnostics.iter().next().expect("an error");
//! assert_eq!(error.message, "`Networking` is not a stack name");
//!
//! let services = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"];
//! assert_eq!(check::did_you_mean("secretmanager", &services), Some("secretsmanager"));
//! ```

use crate::{Context, Diagnostics};

/// The candidate closest to `input` when it is close enough to be a typo,
/// by the host's rule (so modules and host suggest alike):
///
/// - case-insensitive;
/// - a candidate is close when its Jaro-Winkler similarity to `input` is at
///   least 0.85 (which favours a shared start, as typos keep one), or its
///   Damerau-Levenshtein distance is at most a third of `input`'s length
///   (at least 1);
/// - of the close candidates, the most similar wins (the alphabetically
///   first on a tie);
/// - a candidate equal to `input` is never suggested.
///
/// ```
/// use strata_module_sdk::check::did_you_mean;
/// assert_eq!(did_you_mean("netwrok", &["networking", "security"]), Some("networking"));
/// assert_eq!(did_you_mean("cache", &["networking", "security"]), None);
/// ```
pub fn did_you_mean<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .iter()
        .copied()
        .filter(|candidate| *candidate != input)
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let similarity = jaro_winkler(&input_lower, &lower);
            let close = similarity >= 0.85 || damerau_levenshtein(&input_lower, &lower) <= limit;
            close.then_some((similarity, candidate))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// Jaro-Winkler similarity of two strings, from 0 (nothing in common) to 1
/// (equal), over `char`s: the Jaro similarity, raised by a tenth of the
/// remaining gap for each shared leading character (up to four) when the
/// Jaro similarity is above 0.7.
///
/// ```
/// use strata_module_sdk::check::jaro_winkler;
/// assert_eq!(jaro_winkler("same", "same"), 1.0);
/// assert_eq!(jaro_winkler("abc", "xyz"), 0.0);
/// assert!((jaro_winkler("martha", "marhta") - 0.9611).abs() < 1e-4);
/// ```
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let similarity = jaro(a, b);
    if similarity <= 0.7 {
        return similarity;
    }
    let shared_start = a
        .chars()
        .zip(b.chars())
        .take(4)
        .take_while(|(x, y)| x == y)
        .count();
    similarity + 0.1 * shared_start as f64 * (1.0 - similarity)
}

/// Jaro similarity: characters match when equal and at most
/// `max(len) / 2 - 1` positions apart; with `m` matches and `t` half the
/// matches out of order, `(m/|a| + m/|b| + (m - t)/m) / 3`.
fn jaro(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_matched = vec![false; a.len()];
    let mut b_matched = vec![false; b.len()];
    let mut matches = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let start = i.saturating_sub(window);
        let end = (i + window + 1).min(b.len());
        for j in start..end {
            if !b_matched[j] && b[j] == *ca {
                a_matched[i] = true;
                b_matched[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let in_a = a
        .iter()
        .zip(&a_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c);
    let in_b = b
        .iter()
        .zip(&b_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c);
    let transpositions = in_a.zip(in_b).filter(|(x, y)| x != y).count() / 2;
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (matches - transpositions) as f64 / m) / 3.0
}

/// Damerau-Levenshtein distance over `char`s: the fewest insertions,
/// deletions, substitutions and transpositions of adjacent characters that
/// turn `a` into `b` (unrestricted: a transposed pair may be edited again).
///
/// ```
/// use strata_module_sdk::check::damerau_levenshtein;
/// assert_eq!(damerau_levenshtein("netwrok", "network"), 1);
/// assert_eq!(damerau_levenshtein("ca", "abc"), 2);
/// ```
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() || b.is_empty() {
        return a.len().max(b.len());
    }
    // Lowrance-Wagner: `d[i + 1][j + 1]` is the distance between the first
    // `i` chars of `a` and the first `j` of `b`; row and column 0 hold a
    // value larger than any distance.
    let width = b.len() + 2;
    let infinity = a.len() + b.len();
    let mut d = vec![0usize; (a.len() + 2) * width];
    let at = |i: usize, j: usize| i * width + j;
    d[at(0, 0)] = infinity;
    for i in 0..=a.len() {
        d[at(i + 1, 0)] = infinity;
        d[at(i + 1, 1)] = i;
    }
    for j in 0..=b.len() {
        d[at(0, j + 1)] = infinity;
        d[at(1, j + 1)] = j;
    }
    // The last row of `a` each char was seen in (a sorted small map; no
    // hashing, so no randomness in the sandbox).
    let mut last_row: Vec<(char, usize)> = Vec::new();
    for i in 1..=a.len() {
        let mut last_match_column = 0;
        for j in 1..=b.len() {
            let k = last_row
                .binary_search_by_key(&b[j - 1], |(c, _)| *c)
                .map_or(0, |found| last_row[found].1);
            let l = last_match_column;
            let same = a[i - 1] == b[j - 1];
            if same {
                last_match_column = j;
            }
            let substitution = d[at(i, j)] + usize::from(!same);
            let insertion = d[at(i + 1, j)] + 1;
            let deletion = d[at(i, j + 1)] + 1;
            let transposition = d[at(k, l)] + (i - k - 1) + 1 + (j - l - 1);
            d[at(i + 1, j + 1)] = substitution.min(insertion).min(deletion).min(transposition);
        }
        match last_row.binary_search_by_key(&a[i - 1], |(c, _)| *c) {
            Ok(found) => last_row[found].1 = i,
            Err(slot) => last_row.insert(slot, (a[i - 1], i)),
        }
    }
    d[at(a.len() + 1, b.len() + 1)]
}

/// True for a name the host accepts for a stack: 1 to 40 lowercase ASCII
/// letters, digits and single hyphens, starting with a letter and not
/// ending with a hyphen.
///
/// ```
/// use strata_module_sdk::check::is_stack_name;
/// assert!(is_stack_name("network-eu2"));
/// for bad in ["", "Networking", "2net", "net--eu", "net-", "my networking"] {
///     assert!(!is_stack_name(bad), "{bad}");
/// }
/// ```
pub fn is_stack_name(name: &str) -> bool {
    is_name(name, 40)
}

/// Check that the value of key `path` names a stack, by the host's rule
/// ([`is_stack_name`]), so the error points at the key that names it;
/// whether the stack exists and exports what is imported is the host's
/// check. Returns whether the name is valid.
///
/// The help's example is the key's last segment without a `_stack` suffix
/// (`networking_stack` → `networking`), or `networking` when that is not a
/// stack name.
///
/// ```
/// use strata_module_sdk::{Diagnostics, check};
/// let mut diagnostics = Diagnostics::new();
/// assert!(check::stack_name("security_stack", "security", &mut diagnostics));
/// assert!(!check::stack_name("security_stack", "sec urity", &mut diagnostics));
/// let error = diagnostics.iter().next().expect("an error");
/// assert_eq!(error.path, "security_stack");
/// assert_eq!(
///     error.help.as_deref(),
///     Some("stack names are lowercase letters, digits and single hyphens, starting with a letter, e.g. `security`")
/// );
/// ```
pub fn stack_name(path: &str, name: &str, diagnostics: &mut Diagnostics) -> bool {
    if is_stack_name(name) {
        return true;
    }
    let key = path.rsplit('.').next().unwrap_or(path);
    let example = key.strip_suffix("_stack").unwrap_or(key).replace('_', "-");
    let example = if is_stack_name(&example) {
        example.as_str()
    } else {
        "networking"
    };
    diagnostics
        .error(path, format!("`{name}` is not a stack name"))
        .help(format!(
            "stack names are lowercase letters, digits and single hyphens, starting with a letter, e.g. `{example}`"
        ));
    false
}

/// True for a name of at most `max` lowercase ASCII letters, digits and
/// single hyphens, starting with a letter and not ending with a hyphen: the
/// rule of stack names ([`is_stack_name`], `max` 40) and of the names
/// modules turn into export prefixes, logical ids and physical names
/// (queues, secrets, services).
///
/// ```
/// use strata_module_sdk::check::is_name;
/// assert!(is_name("worker-2", 64));
/// for bad in ["", "Api", "2api", "api-", "a--b", "a_b", "abcd"] {
///     assert!(!is_name(bad, 3), "{bad}");
/// }
/// ```
pub fn is_name(name: &str, max: usize) -> bool {
    name_rule(name, max).is_ok()
}

/// Whether `name` follows [`is_name`]'s rule, or the first part of the
/// rule it breaks, worded to follow "`name` is not a queue name: ".
///
/// ```
/// use strata_module_sdk::check::name_rule;
/// assert_eq!(name_rule("jobs", 40), Ok(()));
/// assert_eq!(name_rule("", 40), Err("it is empty".to_owned()));
/// assert_eq!(name_rule("9lives", 40), Err("it must start with a lowercase letter".to_owned()));
/// assert_eq!(name_rule("a_b", 40), Err("`_` is not allowed".to_owned()));
/// assert_eq!(name_rule("abcde", 4), Err("it is 5 characters, at most 4 fit".to_owned()));
/// ```
pub fn name_rule(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "it is {} characters, at most {max} fit",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("it must start with a lowercase letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("`{bad}` is not allowed"));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err("it must not end with `-` or contain `--`".into());
    }
    Ok(())
}

/// `name` made into a name [`is_name`] accepts (lowercase, other characters
/// as single hyphens, leading digits and hyphens dropped, at most `max`
/// characters), or `fallback` when nothing is left.
///
/// ```
/// use strata_module_sdk::check::suggest_name;
/// assert_eq!(suggest_name("My_Worker", 40, "x"), "my-worker");
/// assert_eq!(suggest_name("2fast", 40, "x"), "fast");
/// assert_eq!(suggest_name("__", 40, "x"), "x");
/// assert_eq!(suggest_name("abc-def", 4, "x"), "abc");
/// ```
pub fn suggest_name(name: &str, max: usize, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || (c.is_ascii_digit() && !out.is_empty()) {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(max).collect();
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out.to_owned()
    }
}

/// Check the name at `path` of a resource a module creates, e.g. a queue
/// (`kind` `"queue"`), by [`name_rule`]; the help suggests a valid name
/// ([`suggest_name`], or `fallback`). Returns whether the name is valid.
///
/// ```
/// use strata_module_sdk::{Diagnostics, check};
/// let mut diagnostics = Diagnostics::new();
/// assert!(!check::resource_name("queues.0", "queue", "Jobs", 40, "jobs", &mut diagnostics));
/// let error = diagnostics.iter().next().expect("an error");
/// assert_eq!(error.message, "`Jobs` is not a queue name: it must start with a lowercase letter");
/// assert_eq!(
///     error.help.as_deref(),
///     Some("use lowercase letters, digits and single hyphens, starting with a letter, e.g. `jobs`")
/// );
/// ```
pub fn resource_name(
    path: &str,
    kind: &str,
    name: &str,
    max: usize,
    fallback: &str,
    diagnostics: &mut Diagnostics,
) -> bool {
    let Err(rule) = name_rule(name, max) else {
        return true;
    };
    diagnostics
        .error(path, format!("`{name}` is not a {kind} name: {rule}"))
        .help(format!(
            "use lowercase letters, digits and single hyphens, starting with a letter, e.g. `{}`",
            suggest_name(name, max, fallback)
        ));
    false
}

/// Check that a name of a list at `path` is not listed twice and does not
/// share its logical id with an earlier one, where `earlier` are the
/// accepted `(name, logical id)` pairs before it and `kind` says what the
/// names are (e.g. `"secret"`). Returns whether it is unique.
///
/// ```
/// use strata_module_sdk::{Diagnostics, check};
/// let mut diagnostics = Diagnostics::new();
/// let earlier = [("app-config", "AppConfigSecret")];
/// assert!(check::unique_name("secrets.1", "secret", "stripe", "StripeSecret", earlier, &mut diagnostics));
/// assert!(!check::unique_name("secrets.1", "secret", "appconfig", "AppConfigSecret", earlier, &mut diagnostics));
/// let error = diagnostics.iter().next().expect("an error");
/// assert_eq!(
///     error.message,
///     "secret `appconfig` and secret `app-config` would share the logical id `AppConfigSecret`"
/// );
/// ```
pub fn unique_name<'a>(
    path: &str,
    kind: &str,
    name: &str,
    logical_id: &str,
    earlier: impl IntoIterator<Item = (&'a str, &'a str)>,
    diagnostics: &mut Diagnostics,
) -> bool {
    let earlier: Vec<(&str, &str)> = earlier.into_iter().collect();
    if earlier.iter().any(|(other, _)| *other == name) {
        diagnostics
            .error(path, format!("{kind} `{name}` is listed twice"))
            .help(format!("list each {kind} once"));
        return false;
    }
    if let Some((first, _)) = earlier.iter().find(|(_, id)| *id == logical_id) {
        diagnostics
            .error(
                path,
                format!(
                    "{kind} `{name}` and {kind} `{first}` would share the logical id `{logical_id}`"
                ),
            )
            .help("rename one of them so that they differ in more than hyphens");
        return false;
    }
    true
}

/// Check the key `path` listing services of a compute stack (by
/// [`is_name`], at most 64 characters), as the modules that import what
/// the compute stack exports per service do: each a service name, none
/// twice, no two with the same CloudFormation logical id.
///
/// ```
/// use strata_module_sdk::{Diagnostics, check};
/// let mut diagnostics = Diagnostics::new();
/// let services = ["api", "Worker", "api"].map(String::from);
/// check::compute_services("services", &services, &mut diagnostics);
/// let messages: Vec<_> = diagnostics.iter().map(|d| d.message.as_str()).collect();
/// assert_eq!(messages, ["`Worker` is not a service name", "`api` is listed twice"]);
/// ```
pub fn compute_services(path: &str, services: &[String], diagnostics: &mut Diagnostics) {
    for (i, service) in services.iter().enumerate() {
        let path = format!("{path}.{i}");
        if !is_name(service, 64) {
            diagnostics
                .error(path, format!("`{service}` is not a service name"))
                .help("use the service's key in the compute stack: lowercase letters, digits and single hyphens, e.g. `api`");
        } else if services[..i].contains(service) {
            diagnostics
                .error(path, format!("`{service}` is listed twice"))
                .help("remove the second one");
        } else if let Some(other) = services[..i]
            .iter()
            .find(|other| crate::cfn::logical_id(other) == crate::cfn::logical_id(service))
        {
            diagnostics
                .error(
                    path,
                    format!("`{other}` and `{service}` give the same CloudFormation logical id"),
                )
                .help("the compute stack cannot have both; remove one");
        }
    }
}

/// Retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The log retention modules default to: 90 days in production
/// ([`Context::is_production`]), 30 in the environment `staging`, 7
/// elsewhere.
///
/// ```
/// use strata_module_sdk::{Context, check};
/// let mut ctx = Context::for_tests("compute");
/// assert_eq!(check::default_log_retention_days(&ctx), 7);
/// ctx.environment = "staging".into();
/// assert_eq!(check::default_log_retention_days(&ctx), 30);
/// ```
pub fn default_log_retention_days(ctx: &Context) -> u32 {
    if ctx.is_production() {
        90
    } else if ctx.environment == "staging" {
        30
    } else {
        7
    }
}

/// Check that `days`, the value of key `path`, is a retention period
/// CloudWatch Logs accepts ([`LOG_RETENTION_DAYS`]); the help names the
/// periods either side. Returns whether it is one.
///
/// ```
/// use strata_module_sdk::{Diagnostics, check};
/// let mut diagnostics = Diagnostics::new();
/// assert!(check::log_retention("log_retention_days", 30, &mut diagnostics));
/// assert!(!check::log_retention("log_retention_days", 10, &mut diagnostics));
/// let error = diagnostics.iter().next().expect("an error");
/// assert_eq!(error.message, "`10` is not a CloudWatch Logs retention period");
/// assert_eq!(
///     error.help.as_deref(),
///     Some("CloudWatch Logs keeps logs for set periods; use `7` or `14`")
/// );
/// ```
pub fn log_retention(path: &str, days: u32, diagnostics: &mut Diagnostics) -> bool {
    if LOG_RETENTION_DAYS.contains(&days) {
        return true;
    }
    let below = LOG_RETENTION_DAYS.iter().rev().find(|d| **d < days);
    let above = LOG_RETENTION_DAYS.iter().find(|d| **d > days);
    let help = match (below, above) {
        (Some(below), Some(above)) => {
            format!("CloudWatch Logs keeps logs for set periods; use `{below}` or `{above}`")
        }
        (Some(nearest), None) | (None, Some(nearest)) => {
            format!("CloudWatch Logs keeps logs for set periods; use `{nearest}`")
        }
        (None, None) => "CloudWatch Logs keeps logs for set periods; use `7`".to_owned(),
    };
    diagnostics
        .error(
            path,
            format!("`{days}` is not a CloudWatch Logs retention period"),
        )
        .help(help);
    false
}

/// Longest DNS name, without the trailing dot.
pub const MAX_DOMAIN_NAME: usize = 253;
/// Longest DNS label.
pub const MAX_DOMAIN_LABEL: usize = 63;

/// How a module words two of [`domain_name_problem`]'s problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainWording {
    /// The problem of a name of one label, e.g. `it is a single label`.
    pub single_label: &'static str,
    /// Added to the problem of a label with a `*` (other than a leading
    /// `*.`), e.g. ` (a wildcard is `*.` at the start only)`, or `""`.
    pub misplaced_wildcard: &'static str,
    /// The help when the name is not one, e.g. ``write a domain name such as `example.com` ``.
    pub help: &'static str,
}

/// What is wrong with `name` as a name on a certificate or an alias: a
/// lowercase DNS name of at least two labels, optionally starting with
/// `*.`, worded to follow "`name` is not a valid domain name: ", or `None`
/// when it is one.
///
/// ```
/// use strata_module_sdk::check::{DomainWording, domain_name_problem};
/// let wording = DomainWording { single_label: "it is a single label", misplaced_wildcard: "", help: "" };
/// assert_eq!(domain_name_problem("*.example.com", &wording), None);
/// assert_eq!(domain_name_problem("Example.com", &wording).as_deref(), Some("it has uppercase letters"));
/// assert_eq!(domain_name_problem("localhost", &wording).as_deref(), Some("it is a single label"));
/// ```
pub fn domain_name_problem(name: &str, wording: &DomainWording) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_DOMAIN_NAME {
        return Some(format!(
            "it is {} characters long, the limit is {MAX_DOMAIN_NAME}",
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("it has uppercase letters".into());
    }
    let host = name.strip_prefix("*.").unwrap_or(name);
    let labels: Vec<&str> = host.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Some("it has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > MAX_DOMAIN_LABEL {
            return Some(format!(
                "label `{label}` is {} characters long, the limit is {MAX_DOMAIN_LABEL}",
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            let detail = if bad == '*' {
                wording.misplaced_wildcard
            } else {
                ""
            };
            return Some(format!("label `{label}` has `{bad}`{detail}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    if labels.len() < 2 {
        return Some(wording.single_label.into());
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("the last label is a number (an IP address is not a domain name)".into());
    }
    None
}

/// Check the domain name `raw` at key `path` ([`domain_name_problem`]): a
/// trailing dot is dropped with a warning; a name that is not one is an
/// error, whose help is `write` and the name in lowercase when that is
/// one, else `wording.help`. Returns the name without the dot, or `None`.
///
/// ```
/// use strata_module_sdk::{Diagnostics, check};
/// use strata_module_sdk::check::DomainWording;
/// let wording = DomainWording {
///     single_label: "it is a single label",
///     misplaced_wildcard: "",
///     help: "write a domain name such as `example.com`",
/// };
/// let mut diagnostics = Diagnostics::new();
/// assert_eq!(check::domain_name("domain", "example.com.", &wording, &mut diagnostics), Some("example.com"));
/// assert_eq!(check::domain_name("domain", "Example.com", &wording, &mut diagnostics), None);
/// let messages: Vec<_> = diagnostics.iter().map(|d| d.message.as_str()).collect();
/// assert_eq!(messages, [
///     "the trailing dot of `example.com.` is dropped",
///     "`Example.com` is not a valid domain name: it has uppercase letters",
/// ]);
/// ```
pub fn domain_name<'a>(
    path: &str,
    raw: &'a str,
    wording: &DomainWording,
    diagnostics: &mut Diagnostics,
) -> Option<&'a str> {
    let name = match raw.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => {
            diagnostics
                .warning(path, format!("the trailing dot of `{raw}` is dropped"))
                .help(format!("write `{stripped}`"));
            stripped
        }
        _ => raw,
    };
    let Some(problem) = domain_name_problem(name, wording) else {
        return Some(name);
    };
    let lower = name.to_ascii_lowercase();
    let help = if lower != name && domain_name_problem(&lower, wording).is_none() {
        format!("write `{lower}`")
    } else {
        wording.help.to_owned()
    };
    diagnostics
        .error(
            path,
            format!("`{raw}` is not a valid domain name: {problem}"),
        )
        .help(help);
    None
}

/// Partitions an ARN may name.
pub const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// One of [`PARTITIONS`].
    pub partition: &'a str,
    /// e.g. `acm`.
    pub service: &'a str,
    /// e.g. `us-east-1`; not checked.
    pub region: &'a str,
    /// The account id; not checked.
    pub account: &'a str,
    /// Everything after the fifth `:`, e.g. `certificate/<id>`.
    pub resource: &'a str,
}

/// Split an ARN into its parts, or `None` when it does not start with
/// `arn:` and a known partition or has fewer than six parts.
///
/// ```
/// use strata_module_sdk::check::parse_arn;
/// let arn = parse_arn("arn:aws:wafv2:us-east-1:123456789012:global/webacl/site/id").expect("an ARN");
/// assert_eq!((arn.service, arn.region, arn.resource), ("wafv2", "us-east-1", "global/webacl/site/id"));
/// assert_eq!(parse_arn("arn:azure:x:y:z:w"), None);
/// assert_eq!(parse_arn("nope"), None);
/// ```
pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, service, region, account, resource]
            if PARTITIONS.contains(partition) =>
        {
            Some(Arn {
                partition,
                service,
                region,
                account,
                resource,
            })
        }
        _ => None,
    }
}

/// True for a 12-digit AWS account id.
///
/// ```
/// assert!(strata_module_sdk::check::is_account_id("123456789012"));
/// assert!(!strata_module_sdk::check::is_account_id("1234"));
/// ```
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// True for a region name: `us-east-1`, `eu-central-2`, `us-gov-west-1`,
/// `cn-north-1`.
///
/// ```
/// assert!(strata_module_sdk::check::is_region("us-gov-west-1"));
/// assert!(!strata_module_sdk::check::is_region("useast1"));
/// ```
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// True for a lowercase `8-4-4-4-12` hex UUID (certificate and web ACL ids).
///
/// ```
/// assert!(strata_module_sdk::check::is_uuid("0a1b2c3d-4e5f-6789-abcd-ef0123456789"));
/// assert!(!strata_module_sdk::check::is_uuid("0A1B2C3D-4E5F-6789-ABCD-EF0123456789"));
/// ```
pub fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// True for the family part of an EC2-style instance type (RDS classes,
/// ElastiCache node types): letters, a generation number, then attribute
/// letters, e.g. `t4g`, `r6gd`, `x2iedn`, `m5`.
///
/// ```
/// use strata_module_sdk::check::is_instance_family;
/// for family in ["t4g", "r6gd", "x2iedn", "m5"] {
///     assert!(is_instance_family(family), "{family}");
/// }
/// for family in ["", "t", "4g", "t4G"] {
///     assert!(!is_instance_family(family), "{family}");
/// }
/// ```
pub fn is_instance_family(family: &str) -> bool {
    let rest = family.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let attributes = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < family.len()
        && attributes.len() < rest.len()
        && attributes.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    #[test]
    fn suggests_networking_for_netwrok() {
        assert_eq!(
            did_you_mean("netwrok", &["networking", "security", "database"]),
            Some("networking")
        );
    }

    #[test]
    fn suggests_nothing_for_unrelated_names() {
        assert_eq!(did_you_mean("cache", &["networking", "security"]), None);
        assert_eq!(did_you_mean("dynamodb", &["ecr.api", "logs"]), None);
        assert_eq!(did_you_mean("anything", &[]), None);
    }

    #[test]
    fn suggests_the_closest_of_several_close_names() {
        assert_eq!(
            did_you_mean("prd", &["dev", "prod", "staging"]),
            Some("prod")
        );
        assert_eq!(
            did_you_mean("postgress", &["postgres", "mysql"]),
            Some("postgres")
        );
        assert_eq!(
            did_you_mean("ecr.dker", &["ecr.api", "ecr.dkr", "logs"]),
            Some("ecr.dkr")
        );
    }

    #[test]
    fn ignores_case_when_suggesting() {
        assert_eq!(
            did_you_mean("Instance_Class", &["instance_class"]),
            Some("instance_class")
        );
        assert_eq!(did_you_mean("LOGS", &["ecr.api", "logs"]), Some("logs"));
    }

    #[test]
    fn never_suggests_the_input_itself() {
        assert_eq!(did_you_mean("logs", &["logs"]), None);
    }

    #[test]
    fn breaks_ties_alphabetically() {
        assert_eq!(did_you_mean("ab", &["ac", "aa"]), Some("aa"));
    }

    #[test]
    fn measures_jaro_winkler_similarity() {
        let close = |a: &str, b: &str, expected: f64| {
            let got = jaro_winkler(a, b);
            assert!((got - expected).abs() < 1e-3, "{a} {b}: {got}");
        };
        close("martha", "marhta", 0.961);
        close("dixon", "dicksonx", 0.813);
        close("dwayne", "duane", 0.84);
        close("", "", 1.0);
        close("a", "", 0.0);
        close("netwrok", "networking", 0.911);
    }

    #[test]
    fn measures_damerau_levenshtein_distance() {
        assert_eq!(damerau_levenshtein("", ""), 0);
        assert_eq!(damerau_levenshtein("abc", ""), 3);
        assert_eq!(damerau_levenshtein("", "abc"), 3);
        assert_eq!(damerau_levenshtein("kitten", "sitting"), 3);
        assert_eq!(damerau_levenshtein("ab", "ba"), 1);
        // Unrestricted: "ca" → "ac" → "abc" (the optimal string alignment
        // distance would be 3).
        assert_eq!(damerau_levenshtein("ca", "abc"), 2);
        assert_eq!(damerau_levenshtein("postgress", "postgres"), 1);
        assert_eq!(damerau_levenshtein("ünïcödé", "unicode"), 4);
    }

    #[test]
    fn accepts_the_hosts_stack_names() {
        for name in ["networking", "network-eu", "db2", "a", &"a".repeat(40)] {
            assert!(is_stack_name(name), "{name}");
        }
        for name in [
            "",
            "Security",
            "sec urity",
            "sec--urity",
            "security-",
            "-security",
            "2fa",
            "sec_urity",
            &"a".repeat(41),
        ] {
            assert!(!is_stack_name(name), "{name}");
        }
    }

    #[test]
    fn reports_a_bad_stack_name_at_its_key() {
        let mut diagnostics = Diagnostics::new();
        assert!(!stack_name("networking_stack", "", &mut diagnostics));
        assert!(!stack_name(
            "upstream.peer_vpc_stack",
            "X",
            &mut diagnostics
        ));
        assert!(!stack_name("Source", "X", &mut diagnostics));
        let errors: Vec<_> = diagnostics.into_vec();
        assert_eq!(errors.len(), 3);
        assert!(errors.iter().all(|e| e.severity == Severity::Error));
        assert_eq!(errors[0].path, "networking_stack");
        assert_eq!(errors[0].message, "`` is not a stack name");
        let example = |n: usize| {
            errors[n]
                .help
                .as_deref()
                .and_then(|h| h.rsplit("e.g. ").next())
                .map(str::to_owned)
        };
        assert_eq!(example(0).as_deref(), Some("`networking`"));
        assert_eq!(example(1).as_deref(), Some("`peer-vpc`"));
        assert_eq!(example(2).as_deref(), Some("`networking`"));
    }

    #[test]
    fn suggests_valid_names() {
        assert_eq!(
            suggest_name("Background_Jobs", 40, "jobs"),
            "background-jobs"
        );
        assert_eq!(suggest_name("1jobs", 40, "jobs"), "jobs");
        assert_eq!(suggest_name("--", 40, "jobs"), "jobs");
        assert_eq!(suggest_name("9", 40, "app-config"), "app-config");
        assert_eq!(suggest_name(&"a".repeat(50), 40, "jobs").len(), 40);
        for name in ["Data Refresh!", "Stripe API key!", "App_Config"] {
            assert_eq!(
                name_rule(&suggest_name(name, 40, "x"), 40),
                Ok(()),
                "{name}"
            );
        }
    }
}

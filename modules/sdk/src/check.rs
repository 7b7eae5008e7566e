//! Checks that several modules make on their config, with the host's rules
//! and wording, so users see the same message whichever module reports it.
//!
//! ```
//! use strata_sdk::{Diagnostics, check};
//!
//! let mut diagnostics = Diagnostics::new();
//! check::stack_name("networking_stack", "Networking", &mut diagnostics);
//! let error = diagnostics.iter().next().expect("an error");
//! assert_eq!(error.message, "`Networking` is not a stack name");
//!
//! let services = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"];
//! assert_eq!(check::did_you_mean("secretmanager", &services), Some("secretsmanager"));
//! ```

use crate::Diagnostics;

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
/// use strata_sdk::check::did_you_mean;
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
/// use strata_sdk::check::jaro_winkler;
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
/// use strata_sdk::check::damerau_levenshtein;
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
/// use strata_sdk::check::is_stack_name;
/// assert!(is_stack_name("network-eu2"));
/// for bad in ["", "Networking", "2net", "net--eu", "net-", "my networking"] {
///     assert!(!is_stack_name(bad), "{bad}");
/// }
/// ```
pub fn is_stack_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
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
/// use strata_sdk::{Diagnostics, check};
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
}

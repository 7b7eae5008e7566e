//! Did-you-mean: the closest known name to a misspelt one.

/// The candidate closest to `input`, when it is close enough to be a typo:
/// case-insensitive, Jaro-Winkler similarity of at least 0.85 (which favours a
/// shared start, as typos keep one), or an edit distance of at most a third
/// of the length.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != input)
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let similarity = strsim::jaro_winkler(&input_lower, &lower);
            let close =
                similarity >= 0.85 || strsim::damerau_levenshtein(&input_lower, &lower) <= limit;
            close.then_some((similarity, candidate))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// `help: did you mean `x`?` when a candidate is close, else a list of the
/// valid names (at most ten) prefixed by `what`.
pub fn help_for(input: &str, candidates: &[&str], what: &str) -> Option<String> {
    if let Some(best) = did_you_mean(input, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = candidates
        .iter()
        .take(10)
        .map(|c| format!("`{c}`"))
        .collect();
    if candidates.len() > 10 {
        shown.push(format!("and {} more", candidates.len() - 10));
    }
    Some(format!("{what}: {}", shown.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_networking_for_netwrok() {
        assert_eq!(
            did_you_mean("netwrok", ["networking", "security", "database"]),
            Some("networking")
        );
    }

    #[test]
    fn suggests_nothing_for_unrelated_names() {
        assert_eq!(did_you_mean("cache", ["networking", "security"]), None);
    }

    #[test]
    fn suggests_the_closest_of_several_close_names() {
        assert_eq!(
            did_you_mean("prd", ["dev", "prod", "staging"]),
            Some("prod")
        );
        assert_eq!(
            did_you_mean("postgress", ["postgres", "mysql"]),
            Some("postgres")
        );
    }

    #[test]
    fn ignores_case_when_suggesting() {
        assert_eq!(
            did_you_mean("Instance_Class", ["instance_class"]),
            Some("instance_class")
        );
    }
}

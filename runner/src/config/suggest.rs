//! Did-you-mean: the closest known name to a misspelt one.

/// The candidate closest to `input`, when it is close enough to be a typo
/// (case-insensitive; distance at most a third of the length, at least 1).
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != input)
        .map(|candidate| (strsim::damerau_levenshtein(&input_lower, &candidate.to_lowercase()), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, candidate)| candidate)
}

/// `help: did you mean `x`?` when a candidate is close, else a list of the
/// valid names (at most ten) prefixed by `what`.
pub fn help_for<'a>(input: &str, candidates: &[&'a str], what: &str) -> Option<String> {
    if let Some(best) = did_you_mean(input, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = candidates.iter().take(10).map(|c| format!("`{c}`")).collect();
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
        assert_eq!(did_you_mean("netwrok", ["networking", "security", "database"]), Some("networking"));
    }

    #[test]
    fn suggests_nothing_for_unrelated_names() {
        assert_eq!(did_you_mean("cache", ["networking", "security"]), None);
    }

    #[test]
    fn ignores_case_when_suggesting() {
        assert_eq!(did_you_mean("Instance_Class", ["instance_class"]), Some("instance_class"));
    }
}

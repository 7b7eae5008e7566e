//! Did-you-mean for misspelt names, the same rule the host uses for its own
//! keys: the closest candidate within a third of the input's length.

/// The candidate closest to `input` when it is close enough to be a typo.
pub fn did_you_mean<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|candidate| (edit_distance(&input, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars (insertions, deletions, substitutions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_candidate() {
        assert_eq!(
            did_you_mean("ecr.dker", &["ecr.api", "ecr.dkr", "logs"]),
            Some("ecr.dkr")
        );
        assert_eq!(did_you_mean("LOGS", &["ecr.api", "logs"]), Some("logs"));
    }

    #[test]
    fn suggests_nothing_for_unrelated_input() {
        assert_eq!(did_you_mean("dynamodb", &["ecr.api", "logs"]), None);
    }
}

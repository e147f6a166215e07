//! Ids typed on the command line: the whole id, or a unique prefix of at least four
//! characters (share ids, peers' instance ids, pairing request ids).

use crate::error::ApiError;

/// Shortest prefix that stands for an id.
pub const MIN_PREFIX: usize = 4;

/// The one id of `ids` that is `typed` or begins with it (ASCII case and, for instance ids,
/// the dashes between groups do not matter).
///
/// # Errors
/// [`ApiError::BadRequest`] naming `what` when none matches, when `typed` is shorter than
/// [`MIN_PREFIX`] and not a whole id, or when several begin with it.
pub fn resolve<'a>(
    what: &str,
    typed: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<String, ApiError> {
    let key = normalise(typed);
    let mut matches: Vec<&str> = Vec::new();
    for id in ids {
        let candidate = normalise(id);
        if candidate == key {
            return Ok(id.to_owned());
        }
        if candidate.starts_with(&key) {
            matches.push(id);
        }
    }
    let shown: String = typed.chars().take(80).collect();
    if key.len() < MIN_PREFIX || matches.is_empty() {
        return Err(ApiError::BadRequest(format!("no {what} {shown}")));
    }
    if matches.len() > 1 {
        let listed: Vec<&str> = matches.iter().take(5).copied().collect();
        return Err(ApiError::BadRequest(format!(
            "{shown} is ambiguous: {} {what} ids begin with it ({}); type more characters",
            matches.len(),
            listed.join(", ")
        )));
    }
    Ok(matches[0].to_owned())
}

fn normalise(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 3] = ["abcd1234", "abce9999", "ABCDE-FGHIJ"];

    #[test]
    fn a_whole_id_or_a_unique_prefix_of_four_stands_for_it() {
        assert_eq!(resolve("share", "abcd1234", IDS).unwrap(), "abcd1234");
        assert_eq!(resolve("share", "abcd1", IDS).unwrap(), "abcd1234");
        assert_eq!(resolve("share", "abce", IDS).unwrap(), "abce9999");
        assert_eq!(resolve("peer", "abcdef", IDS).unwrap(), "ABCDE-FGHIJ");
        assert_eq!(resolve("peer", "ABCDE-F", IDS).unwrap(), "ABCDE-FGHIJ");
    }

    #[test]
    fn an_ambiguous_prefix_is_refused_clearly() {
        let error = resolve("share", "abcd", IDS).unwrap_err().to_string();
        assert!(error.contains("ambiguous"), "{error}");
    }

    #[test]
    fn short_or_unknown_prefixes_match_nothing() {
        assert!(resolve("share", "abc", IDS).is_err());
        assert!(resolve("share", "", IDS).is_err());
        assert!(resolve("share", "zzzz", IDS).is_err());
    }
}

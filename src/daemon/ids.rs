//! Ids typed on the command line: the whole id, or a unique prefix of at least four
//! characters (share ids, peers' instance ids, pairing request ids).

use crate::error::ApiError;

/// Shortest prefix that stands for an id.
pub const MIN_PREFIX: usize = 4;

/// The one id of `ids` that is `typed` or begins with it (ASCII case and, for instance ids,
/// the dashes between groups do not matter).
///
/// # Errors
/// [`ApiError::BadRequest`] naming `what` when none matches (or `typed` is shorter than
/// [`MIN_PREFIX`] and not a whole id), or when several begin with it.
pub fn resolve<'a>(
    what: &str,
    typed: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<String, ApiError> {
    let shown: String = typed.chars().take(80).collect();
    find(what, typed, ids)?.ok_or_else(|| ApiError::BadRequest(format!("no {what} {shown}")))
}

/// As [`resolve`], with `None` when nothing matches (for callers that explain that better).
///
/// # Errors
/// [`ApiError::BadRequest`] when several ids begin with `typed`.
pub fn find<'a>(
    what: &str,
    typed: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<Option<String>, ApiError> {
    let key = normalise(typed);
    let mut matches: Vec<&str> = Vec::new();
    for id in ids {
        let candidate = normalise(id);
        if candidate == key {
            return Ok(Some(id.to_owned()));
        }
        if candidate.starts_with(&key) {
            matches.push(id);
        }
    }
    if key.len() < MIN_PREFIX || matches.is_empty() {
        return Ok(None);
    }
    if matches.len() > 1 {
        let shown: String = typed.chars().take(80).collect();
        let listed: Vec<&str> = matches.iter().take(5).copied().collect();
        return Err(ApiError::BadRequest(format!(
            "{shown} is ambiguous: {} {what} ids begin with it ({}); type more characters",
            matches.len(),
            listed.join(", ")
        )));
    }
    Ok(Some(matches[0].to_owned()))
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
        assert_eq!(find("request", "zzzz", IDS).unwrap(), None);
        assert!(
            find("request", "abcd", IDS).is_err(),
            "ambiguous stays an error"
        );
    }
}

//! What the CLI and `--json` show of pairing: [`RequestView`], [`ApproveOutcome`], and times as
//! RFC 3339 (UTC, whole seconds), formatted here without a date crate.

use serde::Serialize;

use super::table::Request;
use super::Direction;
use crate::protocol::keys::format_verification_code;

/// A request as `requests --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// This instance's id for the request.
    pub id: String,
    /// `incoming` or `outgoing`.
    pub direction: Direction,
    /// The local user.
    pub local_user: String,
    /// The other person, `USER@HOST:PORT`.
    pub remote: String,
    /// Why (already checked free of control and bidi characters).
    pub purpose: String,
    /// Where it stands.
    pub state: &'static str,
    /// When it was made, RFC 3339 UTC.
    pub created_at: String,
    /// When it ends if nothing happens, RFC 3339 UTC.
    pub expires_at: String,
    /// Outgoing only: the code to read to the other person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Incoming only: another request claims the same person.
    pub conflicting: bool,
}

impl RequestView {
    /// The view of `request`.
    pub fn of(request: &Request) -> RequestView {
        RequestView {
            id: request.id.clone(),
            direction: request.direction,
            local_user: request.local_user.clone(),
            remote: request.remote.to_string(),
            purpose: request.purpose.clone(),
            state: request.stage.name(),
            created_at: rfc3339(request.created_at),
            expires_at: rfc3339(request.expires_at),
            code: request.code.map(format_verification_code),
            conflicting: request.conflicting,
        }
    }
}

/// The outcome of `approve`, as the CLI prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ApproveOutcome {
    /// The request.
    pub id: String,
    /// Incoming: the 4-digit code for our user to read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_code: Option<String>,
    /// Outgoing: the pairing is complete.
    pub connected: bool,
    /// Outgoing: the peer's instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The other person.
    pub remote: String,
}

/// `secs` since the Unix epoch as RFC 3339 in UTC: `2023-11-14T22:13:20Z`.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of day `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_formats_known_instants_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}

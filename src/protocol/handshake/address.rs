//! Where a peer is: [`PeerAddress`] (`HOST:PORT`), [`PeerUrl`] (`a_url`, `b_url`) and
//! [`RemotePerson`] (`USER@HOST:PORT`), each parsed here and nowhere else (PROTOCOL.md §3,
//! "Addresses"). Everything a stranger sends in `a_url` goes through [`PeerUrl::parse`], so a
//! URL with user info, a query, a fragment or anything else this grammar does not name is
//! refused before any state exists.
//!
//! ```text
//! url      = scheme "://" host [ ":" port ] [ "/" ]
//! scheme   = "http" / "https"
//! address  = host ":" port
//! host     = reg-name / IPv4address / "[" IPv6address "]"
//! reg-name = label *( "." label ), each label 1*63( ALPHA / DIGIT / "-" ), not starting or
//!            ending with "-"; at most 253 bytes; compared and shown in lower case
//! port     = 1*5DIGIT, 1..=65535
//! person   = user "@" address          user as in `valid_user_name`
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest URL accepted (PROTOCOL.md §3).
pub const MAX_URL_BYTES: usize = 256;

/// Why a string is not an address, URL or person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Longer than [`MAX_URL_BYTES`], or a host over 253 bytes.
    #[error("too long")]
    TooLong,
    /// Not `http://` or `https://`.
    #[error("the scheme is not http or https")]
    Scheme,
    /// The host is empty or not a DNS name, an IPv4 address or a bracketed IPv6 address.
    #[error("invalid host")]
    Host,
    /// The port is missing, zero, or not a number up to 65535.
    #[error("invalid port")]
    Port,
    /// User info, a path other than `/`, a query, a fragment, whitespace or control characters.
    #[error("only scheme, host, port and an optional \"/\" are allowed")]
    Extra,
    /// A person's user name outside `[a-z0-9._-]{1,32}`.
    #[error("invalid user name")]
    UserName,
}

/// A peer's host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, in lower case.
    Name(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (shown in brackets).
    V6(Ipv6Addr),
}

impl Host {
    fn parse(text: &str) -> Result<Host, AddressError> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(AddressError::Host)?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::V6)
                .map_err(|_| AddressError::Host);
        }
        if text.is_empty() {
            return Err(AddressError::Host);
        }
        if text.len() > 253 {
            return Err(AddressError::TooLong);
        }
        if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return text
                .parse::<Ipv4Addr>()
                .map(Host::V4)
                .map_err(|_| AddressError::Host);
        }
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !text.split('.').all(label_ok) {
            return Err(AddressError::Host);
        }
        Ok(Host::Name(text.to_ascii_lowercase()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::V4(v4) => write!(f, "{v4}"),
            Host::V6(v6) => write!(f, "[{v6}]"),
        }
    }
}

/// `HOST:PORT`: where to open a connection to a peer. Shown in one canonical form (lower-case
/// name, IPv6 in brackets), which is also how the store keys peers by address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerAddress {
    /// The host.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

fn parse_port(text: &str) -> Result<u16, AddressError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::Port);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(AddressError::Port),
        Ok(port) => Ok(port),
    }
}

/// Splits `host[:port]`, minding IPv6 brackets.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), AddressError> {
    if text.starts_with('[') {
        let close = text.find(']').ok_or(AddressError::Host)?;
        // `]` is one byte, so the split after it stays on a character boundary.
        let (host, rest) = text.split_at(close.saturating_add(1));
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(AddressError::Extra),
        };
    }
    Ok(match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    })
}

/// Refuses the characters no part of this grammar uses.
fn plain(text: &str) -> Result<(), AddressError> {
    if text.len() > MAX_URL_BYTES {
        return Err(AddressError::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "@?#/\\%".contains(c))
    {
        return Err(AddressError::Extra);
    }
    Ok(())
}

impl PeerAddress {
    /// Parses `HOST:PORT` (the port is required).
    ///
    /// # Errors
    /// [`AddressError`].
    pub fn parse(text: &str) -> Result<PeerAddress, AddressError> {
        plain(text)?;
        let (host, port) = split_host_port(text)?;
        let port = parse_port(port.ok_or(AddressError::Port)?)?;
        Ok(PeerAddress {
            host: Host::parse(host)?,
            port,
        })
    }

    /// The name to check a TLS certificate against (the host without brackets). shoebox pins
    /// SPKI hashes, so this only has to be syntactically valid.
    pub fn server_name(&self) -> String {
        match &self.host {
            Host::Name(name) => name.clone(),
            Host::V4(v4) => v4.to_string(),
            Host::V6(v6) => v6.to_string(),
        }
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// An instance's base URL as the handshake carries it: `http(s)://HOST[:PORT][/]`. The port
/// defaults to 443 for `https` and 80 for `http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrl {
    /// `https`.
    pub https: bool,
    /// Where it is.
    pub address: PeerAddress,
}

impl PeerUrl {
    /// Parses a URL under the grammar of this module.
    ///
    /// # Errors
    /// [`AddressError`]: anything but scheme, host, port and an optional trailing `/`.
    pub fn parse(url: &str) -> Result<PeerUrl, AddressError> {
        if url.len() > MAX_URL_BYTES {
            return Err(AddressError::TooLong);
        }
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(AddressError::Scheme);
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        plain(authority)?;
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(port) => parse_port(port)?,
            None if https => 443,
            None => 80,
        };
        Ok(PeerUrl {
            https,
            address: PeerAddress {
                host: Host::parse(host)?,
                port,
            },
        })
    }
}

/// A person on another instance: `USER@HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePerson {
    /// Their user name on that instance.
    pub user: String,
    /// The instance's address.
    pub address: PeerAddress,
}

impl RemotePerson {
    /// Parses `USER@HOST:PORT`.
    ///
    /// # Errors
    /// [`AddressError`].
    pub fn parse(text: &str) -> Result<RemotePerson, AddressError> {
        let (user, address) = text.split_once('@').ok_or(AddressError::UserName)?;
        if !super::valid_user_name(user) {
            return Err(AddressError::UserName);
        }
        Ok(RemotePerson {
            user: user.to_owned(),
            address: PeerAddress::parse(address)?,
        })
    }
}

impl fmt::Display for RemotePerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.address)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_to_one_canonical_form() {
        for (text, shown) in [
            ("127.0.0.1:7443", "127.0.0.1:7443"),
            ("NAS-B.example:7443", "nas-b.example:7443"),
            ("[::1]:7443", "[::1]:7443"),
            ("[2001:db8:0::1]:1", "[2001:db8::1]:1"),
            ("localhost:65535", "localhost:65535"),
        ] {
            assert_eq!(PeerAddress::parse(text).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn addresses_reject_anything_but_host_and_port() {
        for (text, expected) in [
            ("no-port", AddressError::Port),
            ("host:", AddressError::Port),
            ("host:0", AddressError::Port),
            ("host:65536", AddressError::Port),
            ("host:+80", AddressError::Port),
            (":80", AddressError::Host),
            ("a..b:80", AddressError::Host),
            ("-a:80", AddressError::Host),
            ("a_b:80", AddressError::Host),
            ("1.2.3:80", AddressError::Host),
            ("::1:80", AddressError::Host),
            ("[::1]x:80", AddressError::Extra),
            ("user@host:80", AddressError::Extra),
            ("host:80/path", AddressError::Extra),
            ("host:80?x", AddressError::Extra),
            ("host :80", AddressError::Extra),
        ] {
            assert_eq!(PeerAddress::parse(text), Err(expected), "{text}");
        }
    }

    #[test]
    fn urls_allow_scheme_host_port_and_a_slash_only() {
        let url = PeerUrl::parse("https://nas-a.example:7443").unwrap();
        assert!(url.https);
        assert_eq!(url.address.to_string(), "nas-a.example:7443");
        assert_eq!(
            PeerUrl::parse("http://10.0.0.2/")
                .unwrap()
                .address
                .to_string(),
            "10.0.0.2:80"
        );
        assert_eq!(
            PeerUrl::parse("https://[::1]").unwrap().address.to_string(),
            "[::1]:443"
        );
        for (url, expected) in [
            ("http://127.0.0.1:1?x#y", AddressError::Extra),
            ("http://127.0.0.1:1#y", AddressError::Extra),
            ("http://user@evil:1", AddressError::Extra),
            ("http://user:pw@evil:1", AddressError::Extra),
            ("https://a:7443/shoebox", AddressError::Extra),
            ("https://a:7443//", AddressError::Extra),
            ("https://a:7443/%2e", AddressError::Extra),
            ("https://a:7443\\x", AddressError::Extra),
            ("http://a b:1", AddressError::Extra),
            ("file:///etc/passwd", AddressError::Scheme),
            ("HTTP://a:1", AddressError::Scheme),
            ("https://", AddressError::Host),
            ("https://:1", AddressError::Host),
        ] {
            assert_eq!(PeerUrl::parse(url), Err(expected), "{url}");
        }
        let long = format!("https://{}.example", "a".repeat(MAX_URL_BYTES));
        assert_eq!(PeerUrl::parse(&long), Err(AddressError::TooLong));
    }

    #[test]
    fn random_text_never_panics_the_parsers() {
        // A small deterministic generator over the characters the grammar cares about.
        let alphabet: Vec<char> = "az09.-_:[]@/?#%\\ \u{0}\u{202e}é]".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for i in 0..(state % 24) {
                let pick = (state >> (i % 48)) as usize % alphabet.len();
                text.push(alphabet[pick]);
            }
            for prefix in ["", "http://", "https://", "bob@"] {
                let candidate = format!("{prefix}{text}");
                let _ = PeerAddress::parse(&candidate);
                let _ = PeerUrl::parse(&candidate);
                let _ = RemotePerson::parse(&candidate);
            }
        }
    }

    #[test]
    fn persons_need_a_valid_user_and_address() {
        let bob = RemotePerson::parse("bob@NAS-B.example:7443").unwrap();
        assert_eq!(bob.user, "bob");
        assert_eq!(bob.to_string(), "bob@nas-b.example:7443");
        assert_eq!(
            RemotePerson::parse("not-an-address"),
            Err(AddressError::UserName)
        );
        assert_eq!(RemotePerson::parse("Bob@a:1"), Err(AddressError::UserName));
        assert_eq!(RemotePerson::parse("bob@a@b:1"), Err(AddressError::Extra));
    }
}

//! The public URL `serve` derives when none is given (issue 13, "a public URL that is right or
//! says it isn't"): listening on one address keeps that address (loopback included); listening
//! on a wildcard address takes the `.local` name this instance's mDNS answers for (when mDNS is
//! on), else the primary non-loopback address (the one the default route leaves from), never
//! `localhost` or a bare host name that does not resolve. `serve` logs which, and why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// A derived public URL and the reason for it (logged at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The URL.
    pub url: String,
    /// Why this one, for the log.
    pub why: &'static str,
    /// Whether other homes can plausibly reach it (false: loopback).
    pub reachable: bool,
}

/// `scheme://HOST:PORT` with IPv6 hosts bracketed.
fn url(scheme: &str, ip: IpAddr, port: u16) -> String {
    format!("{scheme}://{}", SocketAddr::new(ip, port))
}

/// The source address of the default route (no packet is sent: connecting a UDP socket only
/// picks the route). `None` without one.
fn primary_address(v6: bool) -> Option<IpAddr> {
    let (bind, probe): (SocketAddr, SocketAddr) = if v6 {
        (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        )
    } else {
        (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
        )
    };
    let socket = UdpSocket::bind(bind).ok()?;
    socket.connect(probe).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// The public URL for a listener on `local`, when `--public-url` was not given. `mdns_host` is
/// the `.local` host name this instance's mDNS advertises, when mDNS is on.
pub fn derive(scheme: &str, local: SocketAddr, mdns_host: Option<&str>) -> Derived {
    let port = local.port();
    if !local.ip().is_unspecified() {
        return Derived {
            url: url(scheme, local.ip(), port),
            why: "listening on one address: that address",
            reachable: !local.ip().is_loopback(),
        };
    }
    if let Some(host) = mdns_host {
        return Derived {
            url: format!("{scheme}://{host}:{port}"),
            why: "listening on every address: the .local name this instance's mDNS answers for",
            reachable: true,
        };
    }
    let v6_listener = local.is_ipv6();
    let primary = primary_address(false).or_else(|| primary_address(true).filter(|_| v6_listener));
    match primary {
        Some(ip) => Derived {
            url: url(scheme, ip, port),
            why: "listening on every address, mDNS off: the primary non-loopback address",
            reachable: true,
        },
        None => Derived {
            url: url(scheme, IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            why: "listening on every address, but no network route: loopback only. Other homes \
                  cannot reach this; give --public-url",
            reachable: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_kept_loopback_included() {
        for listen in ["127.0.0.1:7443", "[::1]:7443", "192.0.2.7:7443"] {
            let local: SocketAddr = listen.parse().unwrap();
            let derived = derive("https", local, Some("nas-abcdefg.local"));
            assert_eq!(derived.url, format!("https://{listen}"));
        }
    }

    #[test]
    fn a_wildcard_takes_the_mdns_name_or_an_address_never_localhost() {
        let any: SocketAddr = "0.0.0.0:7443".parse().unwrap();
        let named = derive("https", any, Some("nas-abcdefg.local"));
        assert_eq!(named.url, "https://nas-abcdefg.local:7443");
        let plain = derive("http", any, None);
        assert!(!plain.url.contains("localhost"), "{plain:?}");
        let host = plain.url.trim_start_matches("http://");
        let ip: SocketAddr = host.parse().expect("an address, not a bare host name");
        assert_eq!(ip.port(), 7443);
        assert_eq!(plain.reachable, !ip.ip().is_loopback());
    }
}

//! LAN discovery with mDNS (mdns-sd): `serve` advertises `_shoebox._tcp.local.` with TXT records
//! (protocol version, instance id, TLS and its SPKI hash, public URL when set: nothing secret),
//! following the host's address changes, and withdraws it (goodbye packets) at shutdown;
//! `discover` browses for a while and lists what answered, one entry per instance id.
//!
//! mDNS is a hint, never authentication: a discovered instance pairs through the same handshake
//! as any other. Malformed or foreign records are ignored with a debug log. `--no-mdns` turns all
//! of it off: no socket is opened.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use serde::Serialize;

use crate::identity::InstanceId;

/// The DNS-SD service type.
pub const SERVICE_TYPE: &str = "_shoebox._tcp.local.";
/// The TXT `v` value this version speaks.
const TXT_VERSION: &str = "1";

/// Why discovery could not start or run.
#[derive(Debug, thiserror::Error)]
#[error("mDNS: {0}")]
pub struct DiscoveryError(String);

impl From<mdns_sd::Error> for DiscoveryError {
    fn from(e: mdns_sd::Error) -> Self {
        DiscoveryError(e.to_string())
    }
}

/// What an instance advertises about itself.
#[derive(Clone, Debug)]
pub struct Advert {
    /// Its instance id.
    pub instance_id: InstanceId,
    /// The port it listens on.
    pub port: u16,
    /// SHA-256 of its TLS SPKI, if it serves HTTPS.
    pub tls_spki: Option<[u8; 32]>,
    /// Its public URL, when the owner set one.
    pub public_url: Option<String>,
}

/// An instance found on the LAN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Discovered {
    /// Its advertised name.
    pub name: String,
    /// Its addresses (IPv4 first).
    pub addresses: Vec<String>,
    /// Its port.
    pub port: u16,
    /// Its instance id (as shown).
    pub instance_id: String,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// SHA-256 of its TLS SPKI (hex), when it serves HTTPS.
    pub tls_spki: Option<String>,
    /// Its public URL, when set.
    pub url: Option<String>,
}

/// A running advertisement and browser (clones share one mDNS thread).
#[derive(Clone)]
pub struct Discovery {
    daemon: ServiceDaemon,
    fullname: String,
    own_id: String,
}

/// This machine's host name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "shoebox".into())
}

/// The host label this instance advertises: the host name and the first 7 characters of the
/// instance id (two instances on one host, or in network namespaces, must not share names);
/// `LABEL.local` is the name mDNS answers for.
pub fn host_label(instance_id: &crate::identity::InstanceId) -> String {
    let id = instance_id.to_string();
    format!("{}-{}", hostname(), &id[..7].to_ascii_lowercase())
}

impl Discovery {
    /// Starts advertising `advert` on every interface (addresses follow the host's).
    ///
    /// # Errors
    /// [`DiscoveryError`] when the mDNS socket cannot be opened.
    pub fn start(advert: &Advert) -> Result<Discovery, DiscoveryError> {
        let daemon = ServiceDaemon::new()?;
        let id = advert.instance_id.to_string();
        let label = host_label(&advert.instance_id);
        let mut txt = vec![
            ("v".to_owned(), TXT_VERSION.to_owned()),
            ("id".to_owned(), id.clone()),
            (
                "tls".to_owned(),
                if advert.tls_spki.is_some() { "1" } else { "0" }.to_owned(),
            ),
        ];
        if let Some(spki) = advert.tls_spki {
            txt.push(("spki".to_owned(), data_encoding::HEXLOWER.encode(&spki)));
        }
        if let Some(url) = &advert.public_url {
            txt.push(("url".to_owned(), url.clone()));
        }
        let txt: std::collections::HashMap<String, String> = txt.into_iter().collect();
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &label,
            &format!("{label}.local."),
            "",
            advert.port,
            txt,
        )?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        Ok(Discovery {
            daemon,
            fullname,
            own_id: id,
        })
    }

    /// Browses for `timeout` and returns the other instances that answered. Blocking.
    pub fn browse(&self, timeout: Duration) -> Result<Vec<Discovered>, DiscoveryError> {
        let events = self.daemon.browse(SERVICE_TYPE)?;
        let deadline = Instant::now() + timeout;
        let mut found: BTreeMap<String, Discovered> = BTreeMap::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(event) = events.recv_timeout(left) else {
                break;
            };
            if let ServiceEvent::ServiceResolved(service) = event {
                let Some(entry) = parse(&service) else {
                    continue;
                };
                if entry.instance_id == self.own_id {
                    continue;
                }
                match found.get_mut(&entry.instance_id) {
                    Some(known) => {
                        for address in entry.addresses {
                            if !known.addresses.contains(&address) {
                                known.addresses.push(address);
                            }
                        }
                    }
                    None => {
                        found.insert(entry.instance_id.clone(), entry);
                    }
                }
            }
        }
        let _ = self.daemon.stop_browse(SERVICE_TYPE);
        Ok(found.into_values().collect())
    }

    /// Withdraws the advertisement (goodbye packets) and stops the mDNS thread.
    pub fn stop(self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// Reads one resolved service; `None` (with a debug log) for anything that is not a valid
/// shoebox v1 advertisement.
fn parse(service: &mdns_sd::ResolvedService) -> Option<Discovered> {
    let name = service.get_fullname();
    let reject = |why: &str| {
        tracing::debug!(service = name, "ignoring mDNS record: {why}");
        None
    };
    if service.get_property_val_str("v") != Some(TXT_VERSION) {
        return reject("missing or other protocol version");
    }
    let Some(id) = service
        .get_property_val_str("id")
        .and_then(InstanceId::parse)
    else {
        return reject("missing or invalid instance id");
    };
    let tls = match service.get_property_val_str("tls") {
        Some("1") => true,
        Some("0") => false,
        _ => return reject("missing or invalid tls flag"),
    };
    let tls_spki = service
        .get_property_val_str("spki")
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    if tls && tls_spki.is_none() {
        return reject("tls without an spki");
    }
    let url = service
        .get_property_val_str("url")
        .filter(|u| crate::protocol::handshake::url_scheme_is_https(u).is_some())
        .map(str::to_owned);
    let mut addresses: Vec<String> = service
        .get_addresses_v4()
        .iter()
        .map(|a| a.to_string())
        .collect();
    addresses.sort();
    if addresses.is_empty() {
        return reject("no IPv4 address");
    }
    let label = name
        .strip_suffix(SERVICE_TYPE)
        .unwrap_or(name)
        .trim_end_matches('.')
        .chars()
        .filter(|c| !crate::protocol::handshake::is_unsafe_for_display(*c))
        .take(63)
        .collect();
    Some(Discovered {
        name: label,
        addresses,
        port: service.get_port(),
        instance_id: id.to_string(),
        tls,
        tls_spki,
        url,
    })
}

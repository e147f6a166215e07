//! LAN discovery, tested only inside network namespaces this test makes (two namespaces joined
//! by a veth pair, addresses from 198.18.0.0/15): no multicast ever leaves the machine. Without
//! root or `ip netns`, the test says so and skips.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixture::TestServer;

/// Two namespaces joined by a veth pair; deleted on drop.
struct Lan {
    names: [String; 2],
    addresses: [String; 2],
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Lan {
    fn make() -> Option<Lan> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: the discovery test needs root to make network namespaces");
            return None;
        }
        let tag = std::process::id() % 100_000;
        let names = [format!("sbx{tag}a"), format!("sbx{tag}b")];
        let veth = [format!("sbv{tag}a"), format!("sbv{tag}b")];
        let subnet = tag % 250;
        let addresses = [format!("198.18.{subnet}.1"), format!("198.18.{subnet}.2")];
        let lan = Lan { names, addresses };
        let ok = ip(&["netns", "add", &lan.names[0]])
            && ip(&["netns", "add", &lan.names[1]])
            && ip(&[
                "link", "add", &veth[0], "type", "veth", "peer", "name", &veth[1],
            ])
            && (0..2).all(|i| {
                ip(&["link", "set", &veth[i], "netns", &lan.names[i]])
                    && ip(&[
                        "-n",
                        &lan.names[i],
                        "addr",
                        "add",
                        &format!("{}/24", lan.addresses[i]),
                        "dev",
                        &veth[i],
                    ])
                    && ip(&["-n", &lan.names[i], "link", "set", "lo", "up"])
                    && ip(&["-n", &lan.names[i], "link", "set", &veth[i], "up"])
            });
        if !ok {
            eprintln!("skipped: cannot make network namespaces here (ip netns failed)");
            return None;
        }
        Some(lan)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn discover(server: &TestServer, timeout: &str) -> Vec<Value> {
    server
        .cli_json(&["discover", "--timeout", timeout, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn instances_find_each_other_pair_and_forget_a_stopped_one() {
    let Some(lan) = Lan::make() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let a = TestServer::start_in_netns(
        &lan.names[0],
        &tmp.path().join("a"),
        &format!("{}:7443", lan.addresses[0]),
    );
    let mut b = TestServer::start_in_netns(
        &lan.names[1],
        &tmp.path().join("b"),
        &format!("{}:7443", lan.addresses[1]),
    );

    // Time to first sight: poll with short browses.
    let started = Instant::now();
    let seen = loop {
        let seen = discover(&a, "1");
        if !seen.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break seen;
        }
    };
    eprintln!("discovery: first sight after {:?}", started.elapsed());
    assert_eq!(seen.len(), 1, "A sees exactly B: {seen:?}");
    let b_entry = &seen[0];
    assert_eq!(b_entry["addresses"][0], lan.addresses[1].as_str());
    assert_eq!(b_entry["port"], 7443);
    assert_eq!(b_entry["tls"], true);
    let b_id = b_entry["instance_id"].as_str().unwrap().to_owned();
    assert_eq!(discover(&b, "2").len(), 1, "B sees A");

    // Another implementation resolves shoebox's advertisement (python-zeroconf, when present).
    let zeroconf = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lan.names[0],
            "python3",
            "-c",
            ZEROCONF_BROWSE,
        ])
        .output();
    match zeroconf {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&b_id), "python-zeroconf saw: {text}");
        }
        _ => eprintln!("skipped: python-zeroconf interop (module not installed)"),
    }

    // shoebox sees a service another implementation publishes with valid TXT, and ignores
    // malformed ones (wrong version, bad instance id, missing keys) without a crash.
    let foreign_id = shoebox::identity::InstanceId::of(
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
    )
    .to_string();
    let publisher = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lan.names[1],
            "python3",
            "-c",
            ZEROCONF_PUBLISH,
            &lan.addresses[1],
            &foreign_id,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Ok(mut publisher) = publisher {
        std::thread::sleep(Duration::from_millis(1500));
        let seen = discover(&a, "3");
        let _ = publisher.kill();
        let _ = publisher.wait();
        if seen.len() > 1 {
            let ids: Vec<&str> = seen
                .iter()
                .map(|d| d["instance_id"].as_str().unwrap())
                .collect();
            assert!(ids.contains(&foreign_id.as_str()), "{seen:?}");
            assert_eq!(
                seen.len(),
                2,
                "only B and the valid foreign record: {seen:?}"
            );
        } else {
            eprintln!("skipped: python-zeroconf publishing (module not installed)");
        }
        a.cli_ok(&["user", "list"]); // A lives on
    }

    // Pair with what was found: alice on A, bob on B.
    let libs = tempfile::tempdir().unwrap();
    a.cli_ok(&[
        "user",
        "add",
        "alice",
        "--library",
        libs.path().to_str().unwrap(),
    ]);
    b.cli_ok(&[
        "user",
        "add",
        "bob",
        "--library",
        libs.path().to_str().unwrap(),
    ]);
    let bob = format!("bob@{}:7443", lan.addresses[1]);
    let out = a.cli_json(&["connect", "--as", "alice", &bob, "--json"]);
    let b_req = b.cli_json(&["requests", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cc = b.cli_json(&[
        "approve",
        &b_req,
        "--code",
        out["code"].as_str().unwrap(),
        "--json",
    ]);
    let done = a.cli_json(&[
        "approve",
        out["id"].as_str().unwrap(),
        "--code",
        cc["confirm_code"].as_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        done["instance_id"],
        b_id.as_str(),
        "the paired key is the one mDNS announced"
    );

    // A stopped instance says goodbye and disappears.
    b.stop();
    assert!(discover(&a, "2").is_empty(), "B is gone");
}

/// Browses `_shoebox._tcp.local.` for 3 s with python-zeroconf and prints each service's `id`.
const ZEROCONF_BROWSE: &str = r#"
import time
from zeroconf import ServiceBrowser, Zeroconf
zc = Zeroconf()
seen = []
class Listener:
    def add_service(self, zc, type_, name):
        info = zc.get_service_info(type_, name, timeout=2000)
        if info:
            seen.append(info.properties.get(b"id", b"").decode())
    def update_service(self, *args): pass
    def remove_service(self, *args): pass
ServiceBrowser(zc, "_shoebox._tcp.local.", Listener())
time.sleep(3)
print(" ".join(seen))
zc.close()
"#;

/// Publishes three `_shoebox._tcp.local.` services with python-zeroconf: one valid (argv[2] as
/// its instance id), one with another protocol version, one with a broken id and no tls key.
const ZEROCONF_PUBLISH: &str = r#"
import socket, sys, time
from zeroconf import ServiceInfo, Zeroconf
addr, good_id = sys.argv[1], sys.argv[2]
zc = Zeroconf(interfaces=[addr])
def svc(name, props):
    return ServiceInfo("_shoebox._tcp.local.", name + "._shoebox._tcp.local.",
                       addresses=[socket.inet_aton(addr)], port=7999, properties=props,
                       server=name + ".local.")
for s in [svc("zc-valid", {"v": "1", "id": good_id, "tls": "0"}),
          svc("zc-v2", {"v": "2", "id": good_id, "tls": "0"}),
          svc("zc-bad", {"v": "1", "id": "AAAA-NOT-AN-ID"})]:
    zc.register_service(s)
time.sleep(30)
"#;

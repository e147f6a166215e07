//! `disconnect --as NAME USER@HOST:PORT` (end one user pair and tell the other instance),
//! `peers --ended` and `peer rename`.
//!
//! `disconnect`: end one user pair and tell the other instance
//! (PROTOCOL.md §11.2, goodbye). The other side ends the pair and the shares at once, or on
//! its next contact when it is offline now.

use std::path::Path;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{ControlRequest, Disconnected, FarewellView};

/// `disconnect --as USER REMOTE [--json]`.
pub fn disconnect(data_dir: &Path, user: &str, remote: &str, json: bool) -> anyhow::Result<()> {
    let done: Disconnected = call_as(
        data_dir,
        &ControlRequest::Disconnect {
            user: user.to_owned(),
            remote: remote.to_owned(),
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&done);
    }
    let told = if done.told {
        "their instance was told and ended it too"
    } else {
        "their instance is offline and will be told on its next contact"
    };
    print_out(&format!(
        "{} and {} are no longer connected: the shares between them ended here; {told}\n",
        for_terminal(&done.user),
        for_terminal(&done.remote),
    ))
}

/// `peers --ended [--json]`: the pairings that ended, newest first, and why.
pub fn ended(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let notes: Vec<FarewellView> = call_as(data_dir, &ControlRequest::Farewells, |_, _| {})?;
    if json {
        return print_json(&notes);
    }
    let mut text = String::new();
    for note in &notes {
        let who = if note.by_peer {
            "they said goodbye"
        } else {
            "we said goodbye"
        };
        let pairs: Vec<String> = note
            .pairs
            .iter()
            .map(|p| format!("{} ↔ {}", for_terminal(&p.local), for_terminal(&p.remote)))
            .collect();
        text.push_str(&format!(
            "{}  {}  {} ({who}): {}\n",
            note.at,
            for_terminal(&note.address),
            note.reason,
            pairs.join(", ")
        ));
    }
    if text.is_empty() {
        text = "no pairing has ended\n".into();
    }
    print_out(&text)
}

/// `peer rename PEER NAME`.
pub fn rename(data_dir: &Path, peer: &str, name: &str, json: bool) -> anyhow::Result<()> {
    let done: crate::control::PeerRenamed = call_as(
        data_dir,
        &ControlRequest::PeerRename {
            peer: peer.to_owned(),
            name: name.to_owned(),
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&done);
    }
    print_out(&format!(
        "{} (instance {}) is now called {}: USER@{} names its people\n",
        for_terminal(&done.address),
        done.instance_id,
        for_terminal(&done.name),
        for_terminal(&done.name),
    ))
}

/// `doctor [--json]`: each peer's verdict on reaching this instance; an error when one
/// cannot reach it, or no peer could be asked.
pub fn doctor(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let view: crate::control::DoctorView = call_as(data_dir, &ControlRequest::Doctor, |_, _| {})?;
    let failed = view.checks.iter().filter(|c| !c.reached).count();
    if json {
        print_json(&view)?;
    } else {
        let mut text = format!("public URL: {}\n", for_terminal(&view.public_url));
        for check in &view.checks {
            let url = check.url.as_deref().unwrap_or("?");
            if check.reached {
                text.push_str(&format!(
                    "ok    {} reaches this instance at {}\n",
                    for_terminal(&check.peer),
                    for_terminal(url)
                ));
            } else {
                text.push_str(&format!(
                    "FAIL  {} cannot reach this instance at {}: {}\n",
                    for_terminal(&check.peer),
                    for_terminal(url),
                    for_terminal(&check.detail)
                ));
            }
        }
        if view.checks.is_empty() {
            text.push_str("no paired instance to ask: pair with another home first\n");
        }
        print_out(&text)?;
    }
    if view.checks.is_empty() {
        anyhow::bail!("nothing checked: no paired instance");
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} paired instance(s) cannot reach this one: check --public-url and port forwarding"
        );
    }
    Ok(())
}

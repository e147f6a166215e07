//! `connect`, `requests`, `approve`, `reject`, `peers`: pairing with people on other instances.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{
    ApproveOutcome, ControlRequest, PairingRequest, PeerTransport, PeerView, Rejected,
    RequestState, RequestStatus, RequestView, Unpeered,
};
use crate::discovery::Discovered;
use crate::federation::pairing::Direction;

fn ask<T: DeserializeOwned>(data_dir: &Path, request: PairingRequest) -> anyhow::Result<T> {
    Ok(call_as(
        data_dir,
        &ControlRequest::Pairing { request },
        |_, _| {},
    )?)
}

/// `connect --as NAME USER@HOST:PORT [--purpose TEXT] [--wait] [--json]`.
pub fn connect(
    data_dir: &Path,
    as_user: &str,
    remote: &str,
    purpose: &str,
    wait: bool,
    json: bool,
) -> anyhow::Result<()> {
    let request: RequestView = ask(
        data_dir,
        PairingRequest::Connect {
            as_user: as_user.to_owned(),
            remote: remote.to_owned(),
            purpose: purpose.to_owned(),
        },
    )?;
    let id = request.id.clone();
    let remote = for_terminal(&request.remote);
    let code = spaced(request.code.as_deref().unwrap_or("?"));
    let code = for_terminal(&code);
    if !wait {
        if json {
            return print_json(&request);
        }
        return print_out(&format!(
            "Read this code to {remote}: {code}\n(request {id}; when they have typed it, they read a 4-digit code back: run `shoebox approve {id} --code CODE`)\n",
            id = for_terminal(&id),
        ));
    }
    eprintln!("Read this code to {remote}: {code}\nWaiting for them to type it…");
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let status: RequestStatus =
            ask(data_dir, PairingRequest::RequestStatus { id: id.clone() })?;
        if let Some(reason) = status.ended {
            bail!("the request ended: {}", for_terminal(&reason));
        }
        if status.pending.map(|p| p.state) == Some(RequestState::AwaitingConfirmation) {
            break;
        }
    }
    let code = if std::io::stdin().is_terminal() {
        eprint!("They accepted. Type the 4-digit code they read back: ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim().to_owned()
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the confirmation code from standard input")?;
        line.trim().to_owned()
    };
    approve(data_dir, &id, &code, json)
}

/// A 6-digit code as people read it aloud: `123 456` (`--json` has the digits alone).
fn spaced(code: &str) -> String {
    match (code.len(), code.get(..3), code.get(3..)) {
        (6, Some(head), Some(tail)) => format!("{head} {tail}"),
        _ => code.to_owned(),
    }
}

/// `requests [--json]`.
pub fn requests(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let list: Vec<RequestView> = ask(data_dir, PairingRequest::Requests)?;
    if json {
        return print_json(&list);
    }
    let mut text = String::new();
    for r in &list {
        let line = if r.direction == Direction::Incoming {
            format!(
                "{}  incoming  {} wants to connect with {}: {:?}  [{}]{}\n",
                for_terminal(&r.id),
                for_terminal(&r.remote),
                for_terminal(&r.local_user),
                for_terminal(&r.purpose),
                r.state.name(),
                if r.conflicting {
                    "  CONFLICTING: possible interception"
                } else {
                    ""
                },
            )
        } else {
            format!(
                "{}  outgoing  {} → {}  code {}  [{}]\n",
                for_terminal(&r.id),
                for_terminal(&r.local_user),
                for_terminal(&r.remote),
                for_terminal(&spaced(r.code.as_deref().unwrap_or("-"))),
                r.state.name(),
            )
        };
        text.push_str(&line);
    }
    if text.is_empty() {
        text = "no pending requests\n".into();
    }
    print_out(&text)
}

/// `approve ID --code CODE [--json]`.
pub fn approve(data_dir: &Path, id: &str, code: &str, json: bool) -> anyhow::Result<()> {
    let outcome: ApproveOutcome = ask(
        data_dir,
        PairingRequest::Approve {
            id: id.to_owned(),
            code: code.to_owned(),
        },
    )?;
    if json {
        return print_json(&outcome);
    }
    if let Some(cc) = &outcome.confirm_code {
        return print_out(&format!(
            "Accepted. Read this back to {}: {}\n",
            for_terminal(&outcome.remote),
            for_terminal(cc)
        ));
    }
    print_out(&format!(
        "Connected to {} (instance {})\n",
        for_terminal(&outcome.remote),
        for_terminal(outcome.instance_id.as_deref().unwrap_or("?"))
    ))
}

/// `reject ID`.
pub fn reject(data_dir: &Path, id: &str, json: bool) -> anyhow::Result<()> {
    let done: Rejected = ask(data_dir, PairingRequest::Reject { id: id.to_owned() })?;
    if json {
        return print_json(&done);
    }
    print_out(&format!("rejected request {}\n", for_terminal(&done.id)))
}

/// `peers [--json]`.
pub fn peers(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let list: Vec<PeerView> = ask(data_dir, PairingRequest::Peers)?;
    if json {
        return print_json(&list);
    }
    let mut text = String::new();
    for p in &list {
        let transport = match p.transport {
            PeerTransport::Https => "https",
            PeerTransport::Http => "http",
        };
        text.push_str(&format!(
            "{}  {transport}  {}\n",
            for_terminal(&p.address),
            for_terminal(&p.instance_id),
        ));
        for pair in &p.users {
            text.push_str(&format!(
                "    {} ↔ {}\n",
                for_terminal(&pair.local),
                for_terminal(&pair.remote)
            ));
        }
    }
    if text.is_empty() {
        text = "no peers yet: `shoebox connect --as NAME USER@HOST:PORT`\n".into();
    }
    print_out(&text)
}

/// `unpeer PEER`.
pub fn unpeer(data_dir: &Path, peer: &str, json: bool) -> anyhow::Result<()> {
    let done: Unpeered = call_as(
        data_dir,
        &ControlRequest::Unpeer {
            peer: peer.to_owned(),
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&done);
    }
    print_out(&format!(
        "removed {} (instance {}): its users' shares and sessions ended\n",
        for_terminal(&done.address),
        for_terminal(&done.instance_id)
    ))
}

/// `discover [--timeout SECS] [--json]`.
pub fn discover(data_dir: &Path, timeout: u64, json: bool) -> anyhow::Result<()> {
    let found: Vec<Discovered> = call_as(
        data_dir,
        &ControlRequest::Discover {
            timeout_secs: timeout,
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&found);
    }
    let mut text = String::new();
    for d in &found {
        let address = d.addresses.first().map_or("?", String::as_str);
        text.push_str(&format!(
            "{}  {}:{}  instance {}  {}\n",
            for_terminal(&d.name),
            for_terminal(address),
            d.port,
            for_terminal(&d.instance_id),
            if d.tls { "https" } else { "http" },
        ));
    }
    if text.is_empty() {
        text = "no other shoebox found on the LAN\n".into();
    }
    print_out(&text)
}

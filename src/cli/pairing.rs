//! `connect`, `requests`, `approve`, `reject`, `peers`: pairing with people on other instances.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use super::client::call;
use super::display::{for_terminal, shown, shown_or};
use super::{print_json, print_out};
use crate::control::{ControlRequest, PairingRequest};

fn ask(data_dir: &Path, request: PairingRequest) -> anyhow::Result<Value> {
    Ok(call(
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
    let request = ask(
        data_dir,
        PairingRequest::Connect {
            as_user: as_user.to_owned(),
            remote: remote.to_owned(),
            purpose: purpose.to_owned(),
        },
    )?;
    let id = request["id"].as_str().unwrap_or_default().to_owned();
    if !wait {
        if json {
            return print_json(&request);
        }
        return print_out(&format!(
            "Read this code to {}: {}\n(request {id}; when they have typed it, they read a 4-digit code back: run `shoebox approve {id} --code CODE`)\n",
            shown(&request["remote"]),
            shown(&request["code"]),
            id = shown(&request["id"]),
        ));
    }
    eprintln!(
        "Read this code to {}: {}\nWaiting for them to type it…",
        shown(&request["remote"]),
        shown(&request["code"])
    );
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let status = ask(data_dir, PairingRequest::RequestStatus { id: id.clone() })?;
        if let Some(reason) = status["ended"].as_str() {
            bail!("the request ended: {reason}");
        }
        if status["pending"]["state"] == "awaiting_confirmation" {
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

/// `requests [--json]`.
pub fn requests(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let list = ask(data_dir, PairingRequest::Requests)?;
    if json {
        return print_json(&list);
    }
    let mut text = String::new();
    for r in list.as_array().into_iter().flatten() {
        let line = if r["direction"] == "incoming" {
            format!(
                "{}  incoming  {} wants to connect with {}: {:?}  [{}]{}\n",
                shown(&r["id"]),
                shown(&r["remote"]),
                shown(&r["local_user"]),
                shown(&r["purpose"]),
                shown(&r["state"]),
                if r["conflicting"] == true {
                    "  CONFLICTING: possible interception"
                } else {
                    ""
                },
            )
        } else {
            format!(
                "{}  outgoing  {} → {}  code {}  [{}]\n",
                shown(&r["id"]),
                shown(&r["local_user"]),
                shown(&r["remote"]),
                shown(&r["code"]),
                shown(&r["state"]),
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
    let outcome = ask(
        data_dir,
        PairingRequest::Approve {
            id: id.to_owned(),
            code: code.to_owned(),
        },
    )?;
    if json {
        return print_json(&outcome);
    }
    if let Some(cc) = outcome["confirm_code"].as_str() {
        return print_out(&format!(
            "Accepted. Read this back to {}: {}\n",
            shown(&outcome["remote"]),
            for_terminal(cc)
        ));
    }
    print_out(&format!(
        "Connected to {} (instance {})\n",
        shown(&outcome["remote"]),
        shown(&outcome["instance_id"])
    ))
}

/// `reject ID`.
pub fn reject(data_dir: &Path, id: &str) -> anyhow::Result<()> {
    let done = ask(data_dir, PairingRequest::Reject { id: id.to_owned() })?;
    print_out(&format!("rejected request {}\n", shown(&done["id"])))
}

/// `peers [--json]`.
pub fn peers(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let list = ask(data_dir, PairingRequest::Peers)?;
    if json {
        return print_json(&list);
    }
    let mut text = String::new();
    for p in list.as_array().into_iter().flatten() {
        text.push_str(&format!(
            "{}  {}  {}\n",
            shown(&p["address"]),
            shown(&p["transport"]),
            shown(&p["instance_id"]),
        ));
        for pair in p["users"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "    {} ↔ {}\n",
                shown(&pair["local"]),
                shown(&pair["remote"])
            ));
        }
    }
    if text.is_empty() {
        text = "no peers yet: `shoebox connect --as NAME USER@HOST:PORT`\n".into();
    }
    print_out(&text)
}

/// `unpeer PEER`.
pub fn unpeer(data_dir: &Path, peer: &str) -> anyhow::Result<()> {
    let done = call(
        data_dir,
        &ControlRequest::Unpeer {
            peer: peer.to_owned(),
        },
        |_, _| {},
    )?;
    print_out(&format!(
        "removed {} (instance {}): its users' shares and sessions ended\n",
        shown(&done["address"]),
        shown(&done["instance_id"])
    ))
}

/// `discover [--timeout SECS] [--json]`.
pub fn discover(data_dir: &Path, timeout: u64, json: bool) -> anyhow::Result<()> {
    let found = call(
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
    for d in found.as_array().into_iter().flatten() {
        let address = shown_or(&d["addresses"][0], "?");
        text.push_str(&format!(
            "{}  {}:{}  instance {}  {}\n",
            shown(&d["name"]),
            address,
            d["port"],
            shown(&d["instance_id"]),
            if d["tls"] == true { "https" } else { "http" },
        ));
    }
    if text.is_empty() {
        text = "no other shoebox found on the LAN\n".into();
    }
    print_out(&text)
}

//! `status`, `setup-code`, `user invite`, `user remove` (and the hidden test-clock command).

use std::path::Path;

use super::client::call;
use super::display::{for_terminal, shown};
use super::{print_json, print_out};
use crate::control::{AccountsRequest, ControlRequest};

fn accounts(data_dir: &Path, request: AccountsRequest) -> anyhow::Result<serde_json::Value> {
    Ok(call(
        data_dir,
        &ControlRequest::Accounts { request },
        |_, _| {},
    )?)
}

/// `status [--json]`: the URL to open, the certificate fingerprint, owner, counts.
pub fn status(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let value = accounts(data_dir, AccountsRequest::Status)?;
    if json {
        return print_json(&value);
    }
    let mut text = format!(
        "shoebox {}\ninstance id:  {}\nopen:         {}\n",
        shown(&value["version"]),
        shown(&value["instance_id"]),
        shown(&value["open_url"]),
    );
    for url in value["listen_urls"]
        .as_array()
        .into_iter()
        .flatten()
        .skip(1)
    {
        text.push_str(&format!("              {}/\n", shown(url)));
    }
    text.push_str(&format!("public URL:   {}\n", shown(&value["public_url"])));
    match value["certificate_fingerprint"].as_str() {
        Some(fp) => text.push_str(&format!(
            "certificate:  SHA-256 {}\n              (the browser shows this fingerprint for the certificate to accept)\n",
            for_terminal(fp)
        )),
        None => text.push_str("certificate:  none (--no-tls)\n"),
    }
    let owner = if value["owner_set"].as_bool() == Some(true) {
        "yes".to_owned()
    } else {
        "not yet: run `shoebox setup-code` and enter the code in the browser".to_owned()
    };
    text.push_str(&format!(
        "owner:        {owner}\npeople:       {}\nphotos:       {}\npeers:        {}\n",
        value["people"].as_u64().unwrap_or(0),
        value["photos"].as_u64().unwrap_or(0),
        value["peers"].as_u64().unwrap_or(0),
    ));
    print_out(&text)
}

/// `setup-code [--json]`: the code on its own last line, or `{"code": ...}`.
pub fn setup_code(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let value = accounts(data_dir, AccountsRequest::SetupCode)?;
    if json {
        return print_json(&serde_json::json!({ "code": value["code"] }));
    }
    print_out(&format!(
        "Open the box's address in a browser and enter this setup code to create the owner's account:\n{}\n",
        shown(&value["code"])
    ))
}

/// `user invite NAME [--json]`: a one-time link (7 days), `{"url": ...}`.
pub fn invite(data_dir: &Path, name: &str, json: bool) -> anyhow::Result<()> {
    let value = accounts(
        data_dir,
        AccountsRequest::Invite {
            name: name.to_owned(),
        },
    )?;
    if json {
        return print_json(&serde_json::json!({ "url": value["url"] }));
    }
    print_out(&format!(
        "invite link for {} (works once, for 7 days; older links stop working):\n{}\n",
        for_terminal(name),
        shown(&value["url"])
    ))
}

/// `user remove NAME`.
pub fn remove(data_dir: &Path, name: &str) -> anyhow::Result<()> {
    let value = accounts(
        data_dir,
        AccountsRequest::Remove {
            name: name.to_owned(),
        },
    )?;
    print_out(&format!(
        "removed {}: their sessions and shares ended; their photos stay in {}\n",
        for_terminal(name),
        shown(&value["library"])
    ))
}

/// The hidden `debug-advance-clock SECS` (daemons started with `--test-clock`).
pub fn advance_clock(data_dir: &Path, secs: u64) -> anyhow::Result<()> {
    let value = accounts(data_dir, AccountsRequest::AdvanceClock { secs })?;
    print_json(&value)
}

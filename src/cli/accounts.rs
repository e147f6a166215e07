//! `status`, `setup-code`, `user invite`, `user remove` (and the hidden test-clock command).

use std::path::Path;

use serde::de::DeserializeOwned;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{
    AccountsRequest, ClockView, ControlRequest, InviteView, RemovedView, SetupCodeView, StatusView,
};

fn accounts<T: DeserializeOwned>(data_dir: &Path, request: AccountsRequest) -> anyhow::Result<T> {
    Ok(call_as(
        data_dir,
        &ControlRequest::Accounts { request },
        |_, _| {},
    )?)
}

/// `status [--json]`: the URL to open, the certificate fingerprint, owner, counts.
pub fn status(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let value: StatusView = accounts(data_dir, AccountsRequest::Status)?;
    if json {
        return print_json(&value);
    }
    let mut text = format!(
        "shoebox {}\ninstance id:  {}\nopen:         {}\n",
        for_terminal(&value.version),
        for_terminal(&value.instance_id),
        for_terminal(&value.open_url),
    );
    for url in value
        .listen_urls
        .iter()
        .filter(|url| format!("{url}/") != value.open_url)
    {
        text.push_str(&format!("              {}/\n", for_terminal(url)));
    }
    text.push_str(&format!(
        "public URL:   {}\n",
        for_terminal(&value.public_url)
    ));
    match value.certificate_fingerprint.as_deref() {
        Some(fp) => text.push_str(&format!(
            "certificate:  SHA-256 {}\n              (the browser shows this fingerprint for the certificate to accept)\n",
            for_terminal(fp)
        )),
        None => text.push_str("certificate:  none (--no-tls)\n"),
    }
    let owner = if value.owner_set {
        "yes".to_owned()
    } else {
        "not yet: run `shoebox setup-code` and enter the code in the browser".to_owned()
    };
    text.push_str(&format!(
        "owner:        {owner}\ndata dir:     {}\npeople:       {}\nphotos:       {}\n",
        for_terminal(&value.data_dir),
        value.people,
        value.photos,
    ));
    if value.last_scans.is_empty() {
        text.push_str("last scan:    none yet\n");
    }
    for scan in &value.last_scans {
        let s = &scan.summary;
        text.push_str(&format!(
            "last scan:    {} at {}: added {}, changed {}, removed {}, unchanged {}, skipped {}, unreadable {}\n",
            for_terminal(&scan.user),
            for_terminal(&scan.finished_at),
            s.added, s.changed, s.removed, s.unchanged, s.skipped, s.errors,
        ));
    }
    text.push_str(&format!(
        "cache:        {} MiB of {} MiB ({} thumbnails and previews)\n",
        value.cache.bytes >> 20,
        value.cache.limit_bytes >> 20,
        value.cache.files,
    ));
    text.push_str(&format!("peers:        {}\n", value.peers));
    for peer in &value.peer_contacts {
        text.push_str(&format!(
            "              {} ({}), last contact {}\n",
            for_terminal(&peer.address),
            for_terminal(&peer.instance_id),
            for_terminal(peer.last_contact.as_deref().unwrap_or("never")),
        ));
    }
    print_out(&text)
}

/// `setup-code [--json]`: the code on its own last line, or `{"code": ...}`.
pub fn setup_code(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let value: SetupCodeView = accounts(data_dir, AccountsRequest::SetupCode)?;
    if json {
        return print_json(&value);
    }
    print_out(&format!(
        "Open the box's address in a browser and enter this setup code to create the owner's account:\n{}\n",
        for_terminal(&value.code)
    ))
}

/// `user invite NAME [--json]`: a one-time link (7 days), `{"url": ...}`.
pub fn invite(data_dir: &Path, name: &str, json: bool) -> anyhow::Result<()> {
    let value: InviteView = accounts(
        data_dir,
        AccountsRequest::Invite {
            name: name.to_owned(),
        },
    )?;
    if json {
        return print_json(&value);
    }
    print_out(&format!(
        "invite link for {} (works once, for 7 days; older links stop working):\n{}\n",
        for_terminal(name),
        for_terminal(&value.url)
    ))
}

/// `user remove NAME`.
pub fn remove(data_dir: &Path, name: &str, json: bool) -> anyhow::Result<()> {
    let value: RemovedView = accounts(
        data_dir,
        AccountsRequest::Remove {
            name: name.to_owned(),
        },
    )?;
    if json {
        return print_json(&value);
    }
    print_out(&format!(
        "removed {}: their sessions and shares ended; their photos stay in {}\n",
        for_terminal(name),
        for_terminal(value.library.as_deref().unwrap_or("-"))
    ))
}

/// The hidden `debug-advance-clock SECS` (daemons started with `--test-clock`).
pub fn advance_clock(data_dir: &Path, secs: u64) -> anyhow::Result<()> {
    let value: ClockView = accounts(data_dir, AccountsRequest::AdvanceClock { secs })?;
    print_json(&value)
}

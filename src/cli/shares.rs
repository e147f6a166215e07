//! `share`, `unshare`, `shares`: what local users expose to other people, of this box or of
//! other instances.

use std::path::Path;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{ControlRequest, ShareKind, ShareView};

fn describe(share: &ShareView) -> String {
    let kind = match share.kind {
        ShareKind::Folder => "folder",
        ShareKind::Photo => "photo",
    };
    format!(
        "{}  {} → {}  {kind} {}\n",
        for_terminal(&share.id),
        for_terminal(&share.owner),
        for_terminal(&share.with),
        for_terminal(&share.target),
    )
}

/// `share --from NAME --with (NAME | USER@HOST:PORT) (FOLDER | --photo ID) [--json]`: sharing
/// what is already shared with that person prints the existing share.
pub fn share(
    data_dir: &Path,
    from: &str,
    with: &str,
    folder: Option<String>,
    photo: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let share: ShareView = call_as(
        data_dir,
        &ControlRequest::Share {
            from: from.to_owned(),
            with: with.to_owned(),
            folder,
            photo,
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&share);
    }
    print_out(&format!("shared: {}", describe(&share)))
}

/// `unshare SHARE_ID`.
pub fn unshare(data_dir: &Path, id: &str, json: bool) -> anyhow::Result<()> {
    let share: ShareView = call_as(
        data_dir,
        &ControlRequest::Unshare { id: id.to_owned() },
        |_, _| {},
    )?;
    if json {
        return print_json(&share);
    }
    print_out(&format!("no longer shared: {}", describe(&share)))
}

/// `shares [--json]`.
pub fn list(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let shares: Vec<ShareView> = call_as(data_dir, &ControlRequest::Shares, |_, _| {})?;
    if json {
        return print_json(&shares);
    }
    let mut text: String = shares.iter().map(describe).collect();
    if text.is_empty() {
        text = "nothing shared yet\n".into();
    }
    print_out(&text)
}

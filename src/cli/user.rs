//! `user add`, `user list`, `user token` and `user library`.

use std::path::Path;

use anyhow::Context;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{
    AccountsRequest, ControlRequest, LibraryChanged, TokenReplaced, UserAdded, UserEntry,
};

/// `path` made absolute, as UTF-8 (the daemon canonicalizes it).
fn absolute_utf8(path: &Path) -> anyhow::Result<String> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("library folder {}", path.display()))?;
    Ok(absolute
        .to_str()
        .context("the library path is not valid UTF-8")?
        .to_owned())
}

/// `user add NAME --library DIR`: prints a summary, then the token alone on the last line.
pub fn add(data_dir: &Path, name: &str, library: &Path, json: bool) -> anyhow::Result<()> {
    let library = absolute_utf8(library)?;
    let added: UserAdded = call_as(
        data_dir,
        &ControlRequest::UserAdd {
            name: name.to_owned(),
            library,
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&added);
    }
    print_out(&format!(
        "added user {} (library {}); indexing in the background\nAPI token (shown once):\n{}\n",
        for_terminal(&added.name),
        for_terminal(added.library.as_deref().unwrap_or("-")),
        for_terminal(&added.token),
    ))
}

/// `user list [--json]`.
pub fn list(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let users: Vec<UserEntry> = call_as(data_dir, &ControlRequest::UserList, |_, _| {})?;
    if json {
        return print_json(&users);
    }
    let mut text = String::new();
    for user in &users {
        let kind = if user.is_local { "local" } else { "remote" };
        text.push_str(&format!(
            "{:<20} {:<6} {:>8} photos  {}\n",
            for_terminal(&user.name),
            kind,
            user.photos,
            for_terminal(user.library.as_deref().unwrap_or("-")),
        ));
    }
    if text.is_empty() {
        text = "no users yet: add one with `shoebox user add NAME --library DIR`\n".into();
    }
    print_out(&text)
}

/// `user token NAME [--json]`: the new token alone on the last line.
pub fn token(data_dir: &Path, name: &str, json: bool) -> anyhow::Result<()> {
    let done: TokenReplaced = call_as(
        data_dir,
        &ControlRequest::Accounts {
            request: AccountsRequest::Token {
                name: name.to_owned(),
            },
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&done);
    }
    print_out(&format!(
        "new API token for {} (the old one no longer works; shown once):\n{}\n",
        for_terminal(&done.name),
        for_terminal(&done.token),
    ))
}

/// `user library NAME DIR [--json]`.
pub fn library(data_dir: &Path, name: &str, dir: &Path, json: bool) -> anyhow::Result<()> {
    let done: LibraryChanged = call_as(
        data_dir,
        &ControlRequest::Accounts {
            request: AccountsRequest::Library {
                name: name.to_owned(),
                library: absolute_utf8(dir)?,
            },
        },
        |_, _| {},
    )?;
    if json {
        return print_json(&done);
    }
    print_out(&format!(
        "{}'s library is now {} (was {}); indexing it in the background\n",
        for_terminal(&done.name),
        for_terminal(&done.library),
        for_terminal(done.previous.as_deref().unwrap_or("-")),
    ))
}

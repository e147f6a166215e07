//! `user add` and `user list`.

use std::path::Path;

use anyhow::Context;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{ControlRequest, UserAdded, UserEntry};

/// `user add NAME --library DIR`: prints a summary, then the token alone on the last line.
pub fn add(data_dir: &Path, name: &str, library: &Path) -> anyhow::Result<()> {
    let library = std::path::absolute(library)
        .with_context(|| format!("library folder {}", library.display()))?;
    let library = library
        .to_str()
        .context("the library path is not valid UTF-8")?
        .to_owned();
    let added: UserAdded = call_as(
        data_dir,
        &ControlRequest::UserAdd {
            name: name.to_owned(),
            library,
        },
        |_, _| {},
    )?;
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

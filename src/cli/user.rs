//! `user add` and `user list`.

use std::path::Path;

use anyhow::Context;

use super::client::call;
use super::display::{for_terminal, shown, shown_or};
use super::{print_json, print_out};
use crate::control::ControlRequest;

/// `user add NAME --library DIR`: prints a summary, then the token alone on the last line.
pub fn add(data_dir: &Path, name: &str, library: &Path) -> anyhow::Result<()> {
    let library = std::path::absolute(library)
        .with_context(|| format!("library folder {}", library.display()))?;
    let library = library
        .to_str()
        .context("the library path is not valid UTF-8")?
        .to_owned();
    let value = call(
        data_dir,
        &ControlRequest::UserAdd {
            name: name.to_owned(),
            library,
        },
        |_, _| {},
    )?;
    let token = shown(&value["token"]);
    print_out(&format!(
        "added user {} (library {}); indexing in the background\nAPI token (shown once):\n{token}\n",
        for_terminal(value["name"].as_str().unwrap_or(name)),
        shown(&value["library"]),
    ))
}

/// `user list [--json]`.
pub fn list(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let value = call(data_dir, &ControlRequest::UserList, |_, _| {})?;
    if json {
        return print_json(&value);
    }
    let mut text = String::new();
    for user in value.as_array().into_iter().flatten() {
        let kind = if user["is_local"].as_bool() == Some(true) {
            "local"
        } else {
            "remote"
        };
        text.push_str(&format!(
            "{:<20} {:<6} {:>8} photos  {}\n",
            shown(&user["name"]),
            kind,
            user["photos"].as_u64().unwrap_or(0),
            shown_or(&user["library"], "-"),
        ));
    }
    if text.is_empty() {
        text = "no users yet: add one with `shoebox user add NAME --library DIR`\n".into();
    }
    print_out(&text)
}

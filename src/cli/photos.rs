//! `photos --as NAME [--owner OWNER] [--json]`: every photo the user can see, page by page.

use std::path::Path;

use super::client::call;
use super::display::{shown, shown_or};
use super::{print_json, print_out};
use crate::control::ControlRequest;
use crate::instance::MAX_PAGE_PHOTOS;

/// Lists all pages; `--json` prints one array of photo objects.
pub fn run(
    data_dir: &Path,
    as_user: &str,
    owner: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let mut photos = Vec::new();
    let mut cursor = None;
    loop {
        let page = call(
            data_dir,
            &ControlRequest::Photos {
                as_user: as_user.to_owned(),
                owner: owner.clone(),
                limit: Some(MAX_PAGE_PHOTOS),
                cursor: cursor.take(),
            },
            |_, _| {},
        )?;
        if let Some(items) = page["photos"].as_array() {
            photos.extend(items.iter().cloned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    if json {
        return print_json(&serde_json::Value::Array(photos));
    }
    let mut text = String::new();
    for photo in &photos {
        text.push_str(&format!(
            "{}  {:<19}  {:>5}x{:<5} {:>10}  {}\n",
            shown(&photo["id"]),
            shown_or(&photo["taken_at"], "-"),
            photo["width"].as_u64().unwrap_or(0),
            photo["height"].as_u64().unwrap_or(0),
            photo["size"].as_u64().unwrap_or(0),
            shown(&photo["path"]),
        ));
    }
    if photos.is_empty() {
        text.push_str("no photos\n");
    }
    print_out(&text)
}

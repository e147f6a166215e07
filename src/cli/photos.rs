//! `photos --as NAME [--owner OWNER] [--json]`: every photo the user can see, page by page.

use std::path::Path;

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::ControlRequest;
use crate::instance::{PhotoListing, MAX_PAGE_PHOTOS};

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
        let page: PhotoListing = call_as(
            data_dir,
            &ControlRequest::Photos {
                as_user: as_user.to_owned(),
                owner: owner.clone(),
                limit: Some(MAX_PAGE_PHOTOS),
                cursor: cursor.take(),
            },
            |_, _| {},
        )?;
        photos.extend(page.photos);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if json {
        return print_json(&photos);
    }
    let mut text = String::new();
    for photo in &photos {
        text.push_str(&format!(
            "{}  {:<19}  {:>5}x{:<5} {:>10}  {}\n",
            for_terminal(&photo.id),
            for_terminal(photo.taken_at.as_deref().unwrap_or("-")),
            photo.width,
            photo.height,
            photo.size,
            for_terminal(&photo.path),
        ));
    }
    if photos.is_empty() {
        text.push_str("no photos\n");
    }
    print_out(&text)
}

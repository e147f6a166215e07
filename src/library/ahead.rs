//! Thumbnails (and previews of the newest photos) made ahead of the first visit: after each
//! scan of every library, one background thread walks each person's timeline newest first and
//! makes what is missing, through the same path as a request (open beneath the library, bounded
//! decoders, bytes checked against the indexed hash). The thread runs at the lowest CPU priority
//! (`nice` 19) and makes one image at a time, so it uses at most one core and only what browsing
//! and scanning leave over.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use super::original::open_indexed;
use super::thumbs::{Thumbnails, PREVIEW_EDGE_PX, THUMBNAIL_EDGE_PX};
use crate::store::{MediaType, Store, StoredPhoto, TimelineCursor};

/// Previews made ahead per person (the newest photos, the ones the viewer opens first).
pub const PREVIEWS_AHEAD: usize = 200;

/// Asks the background thread for a pass; a pass already asked for is enough.
#[derive(Clone)]
pub struct Ahead {
    wake: SyncSender<()>,
}

impl Ahead {
    /// Starts the thread. It ends when every [`Ahead`] handle is dropped.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(store: Store, thumbs: Thumbnails) -> std::io::Result<Ahead> {
        let (wake, wakes) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("thumbs-ahead".into())
            .spawn(move || run(&store, &thumbs, &wakes))?;
        Ok(Ahead { wake })
    }

    /// Asks for a pass over every library (after a scan).
    pub fn wake(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => tracing::debug!("thumbs-ahead has stopped"),
        }
    }
}

fn run(store: &Store, thumbs: &Thumbnails, wakes: &Receiver<()>) {
    // SAFETY: setpriority on this thread (who = 0 with PRIO_PROCESS means the calling thread
    // on Linux, whose nice values are per thread); no memory is shared.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
    while wakes.recv().is_ok() {
        let started = std::time::Instant::now();
        let mut made = 0u64;
        let users = match store.users() {
            Ok(users) => users,
            Err(e) => {
                tracing::warn!("thumbs-ahead: {e}");
                continue;
            }
        };
        for user in users.iter().filter(|u| u.is_local) {
            if let Some(library) = &user.library {
                made += pass(store, thumbs, &user.name, Path::new(library));
            }
        }
        if made > 0 {
            tracing::info!(
                made,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "thumbnails made ahead"
            );
        }
    }
}

/// Makes what is missing for `owner`; returns how many images were made.
fn pass(store: &Store, thumbs: &Thumbnails, owner: &str, library: &Path) -> u64 {
    let mut made = 0;
    let mut seen = 0usize;
    let mut before: Option<TimelineCursor> = None;
    loop {
        let page = match store.timeline_page(owner, before.as_ref(), 256) {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!("thumbs-ahead: {e}");
                return made;
            }
        };
        for record in page.photos {
            seen += 1;
            let decodable = match record.media_type {
                MediaType::Jpeg | MediaType::Png | MediaType::Webp | MediaType::Tiff => true,
                MediaType::Heif | MediaType::Avif => super::heif_decode::available(),
                MediaType::Gif => false,
            };
            if !decodable {
                continue;
            }
            let mut edges = vec![THUMBNAIL_EDGE_PX];
            if seen <= PREVIEWS_AHEAD {
                edges.push(PREVIEW_EDGE_PX);
            }
            for edge in edges {
                if !thumbs.cache().has_room_ahead() {
                    return made; // what is left is made when someone asks for it
                }
                if thumbs.path_for_edge(&record, edge).exists() {
                    continue;
                }
                let photo = StoredPhoto {
                    owner: owner.to_owned(),
                    record: record.clone(),
                };
                let result = open_indexed(store, photo, library)
                    .map_err(|e| e.to_string())
                    .and_then(|open| {
                        thumbs
                            .get_or_make_edge(open.opened.file, &open.photo.record, edge)
                            .map_err(|e| e.to_string())
                    });
                match result {
                    Ok(_) => made += 1,
                    Err(e) => tracing::debug!(owner, path = record.path, "thumbs-ahead: {e}"),
                }
            }
        }
        match page.next {
            Some(next) => before = Some(next),
            None => return made,
        }
    }
}

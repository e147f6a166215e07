//! Server time of the timeline with 100 000 photos indexed: a store made on the fly (one
//! owner, 100 folders of 1000 photos, capture times spread over ten years), then the first page,
//! a page deep down by cursor, an album page, the pass `/api/albums` makes, and the JSON of a
//! page of 100. `cargo bench --bench timeline`.

use std::time::Instant;

use shoebox::instance::PhotoView;
use shoebox::store::{MediaType, PhotoBatch, PhotoRecord, Store, TakenAtSource, TimelineCursor};

const PHOTOS: u32 = 100_000;

fn record(store: &Store, i: u32) -> PhotoRecord {
    let path = format!("{:04}/{:02}/IMG_{i:06}.jpg", 2014 + i % 10, i % 100 / 10);
    let day = (i as u64 * 7919) % 3650;
    PhotoRecord {
        id: store.photo_id("alice", &path),
        path,
        size: 3_000_000,
        mtime_ns: 1_600_000_000_000_000_000,
        content_hash: *blake3::hash(&i.to_be_bytes()).as_bytes(),
        media_type: MediaType::Jpeg,
        width: 4032,
        height: 3024,
        taken_at: Some(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:00",
            2014 + day / 365,
            day % 365 / 31 + 1,
            day % 28 + 1,
            i % 24,
            i % 60
        )),
        orientation: 1,
        taken_at_source: TakenAtSource::Exif,
    }
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) -> T {
    let mut out = f();
    let started = Instant::now();
    for _ in 0..runs {
        out = f();
    }
    let each = started.elapsed() / runs;
    println!("{label:<48} {:>9.3} ms", each.as_secs_f64() * 1e3);
    out
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), || [7; 32]).unwrap();
    let started = Instant::now();
    for chunk in (0..PHOTOS).collect::<Vec<_>>().chunks(1000) {
        let batch = PhotoBatch {
            upserts: chunk.iter().map(|&i| record(&store, i)).collect(),
            removals: vec![],
        };
        store.apply_photo_batch("alice", &batch).unwrap();
    }
    println!(
        "indexed {PHOTOS} photos in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let first = time("timeline: first page of 100", 200, || {
        store.timeline_page("alice", None, 100).unwrap()
    });
    let mut cursor: Option<TimelineCursor> = first.next;
    for _ in 0..500 {
        cursor = store
            .timeline_page("alice", cursor.as_ref(), 100)
            .unwrap()
            .next;
    }
    time("timeline: page 501 of 100 (by cursor)", 200, || {
        store.timeline_page("alice", cursor.as_ref(), 100).unwrap()
    });
    time("album page of 100 (a folder of 1000)", 50, || {
        store.album_page("alice", "2016/03", None, 100).unwrap()
    });
    time("albums: one pass over every record", 5, || {
        let mut n = 0u64;
        store.for_each_photo("alice", |_| n += 1).unwrap();
        n
    });
    time("JSON of a page of 100", 200, || {
        let views: Vec<PhotoView> = first
            .photos
            .iter()
            .map(|r| PhotoView::new("alice", r))
            .collect();
        serde_json::to_vec(&views).unwrap().len()
    });
}

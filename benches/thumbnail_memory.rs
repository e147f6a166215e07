//! Peak memory of making one thumbnail, per kind of input, each in a fresh process so that
//! `ru_maxrss` is that thumbnail's alone (issue 9, finding 5: decompression bombs).
//!
//!   cargo bench --bench thumbnail_memory
//!
//! Prints one line per case: the outcome (made, or refused and why), the peak RSS (`VmHWM`) of
//! the child process and, for reference, that of a child that only read the file's hash.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use shoebox::library::Thumbnails;
use shoebox::store::{MediaType, PhotoId, PhotoRecord, TakenAtSource};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        child(
            Path::new(&args[pos + 1]),
            &args[pos + 2],
            args[pos + 3] == "make",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases = make_cases(dir.path());
    println!(
        "{:<42} {:>10} {:>12}  outcome",
        "case", "peak MiB", "baseline MiB"
    );
    for (name, path, kind) in cases {
        let (base, _) = run(&path, kind, false);
        let (peak, outcome) = run(&path, kind, true);
        println!("{name:<42} {peak:>10.1} {base:>12.1}  {outcome}");
    }
}

fn run(path: &Path, kind: &str, make: bool) -> (f64, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--child",
            path.to_str().unwrap(),
            kind,
            if make { "make" } else { "open" },
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (rss, outcome) = text.split_once(' ').unwrap_or((&text, ""));
    (
        rss.parse::<f64>().unwrap_or(f64::NAN) / 1024.0,
        outcome.to_owned(),
    )
}

fn child(path: &Path, kind: &str, make: bool) {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(std::fs::File::open(path).unwrap())
        .unwrap();
    let record = PhotoRecord {
        id: PhotoId([0; 16]),
        path: "x".into(),
        size: std::fs::metadata(path).unwrap().len(),
        mtime_ns: 0,
        content_hash: *hasher.finalize().as_bytes(),
        media_type: if kind == "png" {
            MediaType::Png
        } else {
            MediaType::Jpeg
        },
        width: 0,
        height: 0,
        taken_at: None,
        orientation: 1,
        taken_at_source: TakenAtSource::Exif,
    };
    let cache = tempfile::tempdir().unwrap();
    let outcome = if make {
        let file = std::fs::File::open(path).unwrap();
        match Thumbnails::new(cache.path().to_owned()).get_or_make(file, &record) {
            Ok(_) => "thumbnail made".to_owned(),
            Err(e) => format!("refused: {e}"),
        }
    } else {
        "opened".to_owned()
    };
    // VmHWM: the peak RSS of this process image (ru_maxrss would include the parent's, which
    // Linux carries across fork and exec).
    let peak_kb = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let mut out = std::io::stdout();
    writeln!(out, "{peak_kb} {outcome}").unwrap();
}

/// The inputs: ordinary photos of several sizes, the largest a camera makes, and bombs.
fn make_cases(dir: &Path) -> Vec<(String, PathBuf, &'static str)> {
    let mut cases = Vec::new();
    for (w, h) in [(4000u32, 3000u32), (8192, 6144), (16384, 12288)] {
        let path = dir.join(format!("{w}x{h}.jpg"));
        let image = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
        });
        let file = std::fs::File::create(&path).unwrap();
        image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 85)
            .encode_image(&image)
            .unwrap();
        let mp = f64::from(w) * f64::from(h) / 1e6;
        cases.push((format!("baseline JPEG {w}x{h} ({mp:.0} MP)"), path, "jpeg"));
    }
    for (w, h) in [(4000u32, 3000u32), (8000, 8000)] {
        let path = dir.join(format!("{w}x{h}.png"));
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
        })
        .save(&path)
        .unwrap();
        cases.push((format!("PNG {w}x{h}"), path, "png"));
    }
    // A 631-byte-class JPEG declaring 60000×60000, and a PNG declaring 20000×20000.
    let mut small = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut small)
        .encode(&[0u8; 8 * 8 * 3], 8, 8, image::ExtendedColorType::Rgb8)
        .unwrap();
    let sof = small.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    small[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let bomb = dir.join("bomb.jpg");
    std::fs::write(&bomb, &small).unwrap();
    cases.push((
        format!("JPEG bomb 60000x60000 ({} bytes)", small.len()),
        bomb,
        "jpeg",
    ));
    cases
}

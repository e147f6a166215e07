//! `scan [--user NAME]`: re-index now, with a progress bar on a terminal, then a summary.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::client::call_as;
use super::display::for_terminal;
use super::print_out;
use crate::control::{ControlRequest, ScanReport};

/// Runs the scan and prints `added N, changed N, removed N, unchanged N, skipped N`.
pub fn run(data_dir: &Path, user: Option<String>) -> anyhow::Result<()> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let result = call_as::<ScanReport>(
        data_dir,
        &ControlRequest::Scan { user },
        |user, progress| {
            if let Some(bar) = &bar {
                bar.set_message(format!(
                    "{}: {} files looked at, {} read",
                    for_terminal(user),
                    progress.seen,
                    progress.indexed
                ));
            }
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let total = result?.total;
    let mut text = format!(
        "added {}, changed {}, removed {}, unchanged {}, skipped {}",
        total.added, total.changed, total.removed, total.unchanged, total.skipped,
    );
    if total.errors > 0 {
        text.push_str(&format!(
            ", {} unreadable (see the daemon's log)",
            total.errors
        ));
    }
    text.push('\n');
    print_out(&text)
}

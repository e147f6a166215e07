//! `scan [--user NAME]`: re-index now, with a progress bar on a terminal, then a summary.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::client::call_as;
use super::display::for_terminal;
use super::{print_json, print_out};
use crate::control::{ControlRequest, ScanReport};

/// Runs the scan and prints `added N, changed N, removed N, unchanged N, skipped N`.
pub fn run(data_dir: &Path, user: Option<String>, json: bool) -> anyhow::Result<()> {
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
    let report = result?;
    if json {
        return print_json(&report);
    }
    let total = &report.total;
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
    for user in &report.users {
        for file in &user.summary.skipped_files {
            text.push_str(&format!(
                "skipped {}: {}: {}\n",
                for_terminal(&user.user),
                for_terminal(&file.path),
                for_terminal(&file.reason),
            ));
        }
        let unnamed = user
            .summary
            .skipped
            .saturating_sub(user.summary.skipped_files.len() as u64);
        if unnamed > 0 {
            text.push_str(&format!(
                "skipped {}: and {unnamed} more\n",
                for_terminal(&user.user)
            ));
        }
    }
    print_out(&text)
}

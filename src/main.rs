//! The `shoebox` binary: parse arguments, start logging, dispatch.

use clap::Parser;
use shoebox::cli::{Cli, Command};
use shoebox::error::exit;

/// How long shutdown waits for blocking work (scans, file reads) before exiting anyway.
const SHUTDOWN_BLOCKING_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn main() {
    let cli = Cli::parse();
    init_tracing();
    let code = match &cli.command {
        Command::Serve(args) => serve(&cli, args),
        _ => shoebox::cli::run_client(&cli),
    };
    std::process::exit(code);
}

fn serve(cli: &Cli, args: &shoebox::cli::ServeArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("shoebox: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let result = runtime.block_on(shoebox::daemon::serve(cli.data_dir(), args.options()));
    // Blocking work still running (a scan, a read stuck on a dead NFS mount) must not keep the
    // process alive after the daemon has shut down.
    runtime.shutdown_timeout(SHUTDOWN_BLOCKING_WAIT);
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("shoebox: {e}");
            exit::FAILED
        }
    }
}

/// Logs go to stderr; `SHOEBOX_LOG` takes `info`, `debug` or targets like `shoebox=debug`.
fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter = std::env::var("SHOEBOX_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .with(filter)
        .init();
}

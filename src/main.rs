//! The `gridsweep` binary: parse the command line, run, map the outcome to an exit
//! code (0 ok, 1 some folds failed, 2 fatal error).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`gridsweep export | head`), instead of panicking on a broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    gridsweep::tune_allocator();
    let cli = gridsweep::cli::Cli::parse();
    match gridsweep::cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("gridsweep: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

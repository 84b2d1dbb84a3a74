//! The `gridsweep` binary: parse the command line, run, map the outcome to an exit
//! code (0 ok, 1 some folds failed, 2 fatal error).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = gridsweep::cli::Cli::parse();
    match gridsweep::cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("gridsweep: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

//! The `gridsweep` binary: parse the command line, run, map the outcome to an exit
//! code (0 ok, 1 some folds failed, 2 fatal error).

use clap::Parser;
use std::io::Write;

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`gridsweep export | head`), instead of panicking on a broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    gridsweep::tune_allocator();
    // --help, --version and usage errors end through `exit_now` too.
    let cli = match gridsweep::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            exit_now(e.exit_code())
        }
    };
    let code = match gridsweep::cli::run(cli) {
        Ok(outcome) => outcome.code(),
        Err(e) => {
            eprintln!("gridsweep: error: {}", gridsweep::cli::error_text(&e));
            2
        }
    };
    exit_now(code)
}

/// Ends the process without running C++ static destructors: LibTorch spends over a
/// tenth of a second tearing down its operator registry at exit, for nothing. Every
/// file and the database are closed by the time `run` returns; standard output and
/// error are flushed here.
fn exit_now(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}

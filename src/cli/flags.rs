//! The flags several commands share, each described once (as ripgrep's flags are): its
//! help text, default and parser live here, and each has its test below.

use clap::Args;

/// `--jobs`: how many folds train at once.
#[derive(Args, Debug, Clone, Default)]
pub struct JobsArg {
    /// Folds trained at once (default: as many as cores, so that every core is busy).
    #[arg(long, value_parser = super::positive)]
    pub jobs: Option<usize>,
}

/// `--threads-per-job` (alias `--threads`): LibTorch's threads in each job.
#[derive(Args, Debug, Clone, Default)]
pub struct ThreadsArg {
    /// LibTorch threads per job (default 1: the jobs keep the cores busy; several
    /// threads per job only pay with fewer jobs than cores, and oversubscribing the
    /// cores, e.g. with several processes, costs far more than it gains).
    #[arg(long, alias = "threads", value_parser = super::positive)]
    pub threads_per_job: Option<usize>,
}

impl ThreadsArg {
    /// The threads per job given, or the default (1).
    pub fn get(&self) -> usize {
        self.threads_per_job.unwrap_or(super::THREADS_PER_JOB)
    }
}

/// `--device`: where the folds train.
#[derive(Args, Debug, Clone)]
pub struct DeviceArg {
    /// cpu, cuda, cuda:N or auto (a GPU where there is one, else the CPU); `run` and
    /// `resume` spread `cuda` over every visible GPU.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

#[cfg(test)]
mod tests {
    use super::super::Cli;
    use clap::Parser;

    /// Every command that trains takes the three flags, with one default each.
    #[test]
    fn each_shared_flag_parses_alike_in_every_command() {
        for cmd in [
            vec!["cv", "--data", "d.csv"],
            vec!["run", "s.json"],
            vec!["bench"],
            vec!["resume", "s"],
        ] {
            let mut args = vec!["gridsweep"];
            args.extend(&cmd);
            let given = [
                &args[..],
                &["--jobs", "3", "--threads", "2", "--device", "auto"],
            ]
            .concat();
            assert!(Cli::try_parse_from(&given).is_ok(), "{cmd:?}");
            assert!(Cli::try_parse_from(&args).is_ok(), "{cmd:?} without them");
            let zero = [&args[..], &["--jobs", "0"]].concat();
            assert!(Cli::try_parse_from(&zero).is_err(), "{cmd:?} --jobs 0");
        }
        let args = [
            "gridsweep",
            "evaluate",
            "s",
            "--threads-per-job",
            "4",
            "--device",
            "cpu",
        ];
        assert!(Cli::try_parse_from(args).is_ok());
    }

    #[test]
    fn threads_default_to_one() {
        assert_eq!(super::ThreadsArg::default().get(), 1);
        let t = super::ThreadsArg {
            threads_per_job: Some(3),
        };
        assert_eq!(t.get(), 3);
    }
}

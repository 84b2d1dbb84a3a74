//! `gridsweep slurm`: a sweep's workers as a Slurm job array.
//!
//! Each array task is one `gridsweep run SPEC --db URL` process on a compute node; the
//! PostgreSQL database is the only thing they share, and it hands out the folds
//! (claims, leases, heartbeats), so tasks may start late, fail or be preempted without
//! losing anything. The configurations are registered before anything is submitted,
//! so the tasks only claim. SQLite is refused: a file on a network file system is not
//! safe to share between nodes.

use super::sweep_cmd::{db_hint, load_spec, runtime};
use super::{sh_quote, Outcome};
use crate::store::{DbLocation, Store};
use crate::sweep::register::{check_data, register};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SlurmArgs {
    /// The search-space spec (JSON), as for `run`.
    pub spec: PathBuf,
    /// Use this data file instead of the spec's.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The shared database: a postgres:// URL every compute node can reach.
    #[arg(long)]
    pub db: String,
    /// Array tasks (worker processes).
    #[arg(long, value_parser = super::positive)]
    pub workers: usize,
    /// CPUs per task; each task runs that many training jobs (--jobs).
    #[arg(long, default_value_t = 1, value_parser = super::positive)]
    pub cpus_per_worker: usize,
    /// GPUs per task (--gres=gpu:G); the tasks then train with --device cuda.
    #[arg(long)]
    pub gpus_per_worker: Option<usize>,
    /// Each task's `run --fuse N`: up to N folds of one network shape trained as one
    /// per job (for GPUs; see docs/performance.md). Default 1: off.
    #[arg(long, default_value_t = 1, value_parser = super::positive)]
    pub fuse: usize,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, HH:MM:SS (or any form sbatch takes).
    #[arg(long)]
    pub time: Option<String>,
    /// Memory per task (sbatch --mem, e.g. 2G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Another sbatch option, written as `#SBATCH <flag>` (repeatable), e.g. --extra '--account=ml'.
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub extra: Vec<String>,
    /// Folder of the tasks' log files (default: results/slurm, made absolute).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// Write the script here (default: standard output, or results/<sweep>.sbatch with --submit).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pass the script to sbatch and print the job id.
    #[arg(long)]
    pub submit: bool,
    /// Seconds before the time limit at which Slurm sends the tasks SIGTERM
    /// (`#SBATCH --signal=B:TERM@N`): each task then saves its running folds' training
    /// states and returns them to pending, so nothing waits for a lease; 0 leaves it to
    /// the limit itself (SIGTERM, then SIGKILL after Slurm's KillWait).
    #[arg(long, default_value_t = 120)]
    pub signal_seconds: u32,
    /// Accept a database on 127.0.0.1/localhost (or a local socket): only right when the
    /// tasks run on this machine, since compute nodes reach their own localhost.
    #[arg(long)]
    pub allow_local_db: bool,
}

/// An `#SBATCH` option's value: double-quoted when it holds a space (sbatch reads its
/// directives with its own quoting rules, not a shell's).
fn directive_value(s: &str) -> String {
    if s.contains(char::is_whitespace) {
        format!("\"{}\"", s.replace('"', "\\\""))
    } else {
        s.to_string()
    }
}

/// The folder of the LibTorch this process loaded (the compute nodes need the same).
fn loaded_torch_lib() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
}

/// The sbatch script for `a`, running `exe` on `spec`.
pub fn script(
    a: &SlurmArgs,
    name: &str,
    exe: &Path,
    spec: &Path,
    data: Option<&Path>,
    log_dir: &Path,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!(
        "# gridsweep sweep `{name}`: {} worker(s), each `gridsweep run` with {} job(s).\n",
        a.workers, a.cpus_per_worker
    );
    s += "# Every task claims folds from the shared database until none is left; a task that\n";
    s += "# dies leaves its folds to the others once their leases expire.\n";
    s += &format!(
        "#SBATCH --job-name={}\n",
        sh_quote(&format!("gridsweep-{name}"))
    );
    s += &format!("#SBATCH --array=0-{}\n", a.workers - 1);
    s += "#SBATCH --ntasks=1\n";
    s += &format!("#SBATCH --cpus-per-task={}\n", a.cpus_per_worker);
    if let Some(g) = a.gpus_per_worker {
        s += &format!("#SBATCH --gres=gpu:{g}\n");
    }
    if let Some(p) = &a.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &a.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    if let Some(m) = &a.mem {
        s += &format!("#SBATCH --mem={m}\n");
    }
    s += &format!(
        "#SBATCH --output={}\n",
        directive_value(&format!("{}/gridsweep-{name}-%A_%a.log", log_dir.display()))
    );
    if a.signal_seconds > 0 {
        // `B:` signals the batch shell, which `exec` below makes the gridsweep process
        // itself (without it Slurm signals job steps, and this script starts none).
        s += &format!("#SBATCH --signal=B:TERM@{}\n", a.signal_seconds);
    }
    for e in &a.extra {
        s += &format!("#SBATCH {e}\n");
    }
    s += "set -eu\n";
    if let Some(lib) = loaded_torch_lib() {
        s += &format!("# The LibTorch this binary was built with (it also carries an rpath to it).\nexport LD_LIBRARY_PATH={}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n", sh_quote(&lib.display().to_string()));
    }
    // Never the password: the tasks read it from PGPASSWORD or ~/.pgpass.
    let db = DbLocation::parse(&a.db).without_password();
    let mut cmd = format!(
        "exec {} run {} --db {}",
        sh_quote(&exe.display().to_string()),
        sh_quote(&spec.display().to_string()),
        sh_quote(&db)
    );
    // CPU tasks run one training job per CPU; GPU tasks run --jobs-per-device workers
    // on every GPU they were given.
    match a.gpus_per_worker {
        Some(_) => cmd += " --device cuda",
        None => cmd += &format!(" --jobs {}", a.cpus_per_worker),
    }
    if a.fuse > 1 {
        cmd += &format!(" --fuse {}", a.fuse);
    }
    if let Some(d) = data {
        cmd += &format!(" --data {}", sh_quote(&d.display().to_string()));
    }
    s += &cmd;
    s += "\n";
    s
}

pub fn run(a: SlurmArgs) -> Result<Outcome> {
    let db = DbLocation::parse(&a.db);
    if !db.is_postgres() {
        bail!(
            "--db {}: the tasks of a job array run on several nodes, and a SQLite file is not safe to share \
             between machines (network file systems do not honour its locks): give a postgres://user@host:port/dbname \
             URL the nodes can reach (`gridsweep copy --from FILE --to URL` moves a local sweep there)",
            a.db
        );
    }
    if !a.allow_local_db {
        if let Some(host) = db.local_host() {
            bail!(
                "--db {db}: the database host is {host}, which each compute node reads as itself, not as this machine: \
                 give a host name or address the nodes can reach (or --allow-local-db when the tasks run on this machine)"
            );
        }
    }
    if db.password().is_some() {
        eprintln!(
            "gridsweep: note: the script's --db leaves out the password of {db}: give it to the tasks with PGPASSWORD \
             (exported before sbatch, which passes the environment on) or a ~/.pgpass line on the cluster's shared home"
        );
    }
    let spec_path =
        std::path::absolute(&a.spec).with_context(|| format!("{}", a.spec.display()))?;
    let spec = load_spec(&spec_path, a.data.as_ref())?;
    let expansion = spec.expand()?;
    // As `run` would: a spec whose data cannot be used fails before anything is recorded.
    check_data(&spec)?;
    let rt = runtime()?;
    // The configurations first, so that the tasks only claim.
    rt.block_on(async {
        let store = Store::open(&db).await?;
        let r = register(&store, &spec, &expansion, false, &db_hint(store.location())).await?;
        let (id, added) = (r.sweep_id, r.new_configs);
        let c = store.counts(id).await?;
        store.close().await;
        eprintln!(
            "gridsweep: sweep {} in {}: {added} configuration(s) new, {} of {} folds pending",
            spec.name,
            db,
            c.pending,
            c.total()
        );
        anyhow::Ok(())
    })?;
    let exe = std::env::current_exe().context("locating the gridsweep binary")?;
    let log_dir = std::path::absolute(
        a.log_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("results/slurm")),
    )?;
    let data = a.data.as_ref().map(std::path::absolute).transpose()?;
    let text = script(&a, &spec.name, &exe, &spec_path, data.as_deref(), &log_dir);
    // Slurm does not create the log folder: a task whose log cannot be opened fails
    // without a word.
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("creating the log folder {}", log_dir.display()))?;
    let out = a.out.clone().or_else(|| {
        a.submit
            .then(|| PathBuf::from(format!("results/{}.sbatch", spec.name)))
    });
    match &out {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("gridsweep: wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    if a.submit {
        let path = out.as_deref().unwrap_or(Path::new(""));
        let o = std::process::Command::new("sbatch")
            .arg(path)
            .output()
            .context(
                "running sbatch (is Slurm's client installed and configured on this machine?)",
            )?;
        let stdout = String::from_utf8_lossy(&o.stdout);
        if !o.status.success() {
            bail!(
                "sbatch {} failed: {}",
                path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        let id = stdout.split_whitespace().last().unwrap_or("").trim();
        println!("{id}");
        eprintln!("gridsweep: submitted job array {id} ({} task(s)); `gridsweep status {} --db {}` follows it", a.workers, spec.name, sh_quote(&db.without_password()));
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }
}

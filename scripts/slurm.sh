#!/usr/bin/env bash
# A throwaway one-node Slurm cluster for the tests, sourced by scripts/test.sh:
#   start_slurm   installs Debian's slurm-wlm and munge if missing (as root, with apt-get),
#                 then runs munged, slurmctld and slurmd from a temporary folder with a
#                 private slurm.conf (no accounting, proctrack/linuxproc, task/none,
#                 private ports); exports SLURM_CONF for sbatch/squeue, and
#                 GRIDSWEEP_TEST_SLURM=1 once a node answers
#   stop_slurm    stops the daemons and removes the folder
# Where Slurm cannot be had, GRIDSWEEP_TEST_SLURM stays unset and the Slurm test skips,
# saying so.

SLURM_TMP=""

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_slurm() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "note: installing Debian's slurm-wlm and munge for the Slurm test" >&2
      (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; }) || true
    fi
  fi
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "note: Slurm (slurmctld, slurmd, munged) cannot be had here: the Slurm test skips" >&2
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "note: a private Slurm needs root (slurmd): the Slurm test skips" >&2
    return 0
  fi
  SLURM_TMP=$(mktemp -d /tmp/gridsweep-slurm.XXXXXX)
  chmod 755 "$SLURM_TMP"
  mkdir -p "$SLURM_TMP/state" "$SLURM_TMP/spool" "$SLURM_TMP/munge"
  # munge: its own key and socket; it insists on owning its folders.
  head -c 1024 /dev/urandom > "$SLURM_TMP/munge/munge.key"
  chmod 700 "$SLURM_TMP/munge"; chmod 400 "$SLURM_TMP/munge/munge.key"
  munged --force --key-file="$SLURM_TMP/munge/munge.key" --socket="$SLURM_TMP/munge/munge.socket" \
    --pid-file="$SLURM_TMP/munge/munged.pid" --log-file="$SLURM_TMP/munge/munged.log" --seed-file="$SLURM_TMP/munge/seed" \
    >/dev/null 2>&1 || { echo "note: munged did not start: the Slurm test skips" >&2; return 0; }
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  cat > "$SLURM_TMP/slurm.conf" <<CONF
ClusterName=gridsweeptest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$SLURM_TMP/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$SLURM_TMP/state
SlurmdSpoolDir=$SLURM_TMP/spool
SlurmctldPidFile=$SLURM_TMP/slurmctld.pid
SlurmdPidFile=$SLURM_TMP/slurmd.pid
SlurmctldLogFile=$SLURM_TMP/slurmctld.log
SlurmdLogFile=$SLURM_TMP/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  export SLURM_CONF="$SLURM_TMP/slurm.conf"
  slurmctld -f "$SLURM_CONF" -i >/dev/null 2>&1 || { echo "note: slurmctld did not start: the Slurm test skips" >&2; tail -3 "$SLURM_TMP/slurmctld.log" >&2; return 0; }
  slurmd -f "$SLURM_CONF" >/dev/null 2>&1 || { echo "note: slurmd did not start: the Slurm test skips" >&2; tail -3 "$SLURM_TMP/slurmd.log" >&2; return 0; }
  local i
  for i in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      export GRIDSWEEP_TEST_SLURM=1
      echo "Slurm $(sinfo --version | awk '{print $2}') for the tests: one node ($host, $cpus CPUs)" >&2
      return 0
    fi
    sleep 0.5
  done
  echo "note: the Slurm node did not come up: the Slurm test skips" >&2
  tail -3 "$SLURM_TMP/slurmd.log" >&2
}

stop_slurm() {
  [ -n "$SLURM_TMP" ] || return 0
  scancel --quiet --full -u "$(id -un)" >/dev/null 2>&1 || true
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$SLURM_TMP/$f" ] && kill "$(cat "$SLURM_TMP/$f")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$SLURM_TMP"
  SLURM_TMP=""
}

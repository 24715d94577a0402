#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for testing the SLURM profile.
#   bash scripts/slurm_cluster.sh start   # install (apt) if needed, write slurm.conf, start daemons
#   bash scripts/slurm_cluster.sh stop    # stop the daemons by their PIDs
# State, logs and PID files live in .slurm/ (ignored by git). Clients need
# SLURM_CONF=$PWD/.slurm/slurm.conf (printed by `start`). Needs root (apt, munge, slurmd).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$PWD/.slurm"
CONF="$DIR/slurm.conf"

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    && command -v sbatch >/dev/null && return
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  cat > "$CONF" <<CONF
# Single-node test cluster (written by scripts/slurm_cluster.sh)
ClusterName=localtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
# no accounting database: sacct does not work, so the profile asks squeue, and finished
# jobs must stay visible to squeue well beyond the status-check interval
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  # job steps (srun inside sbatch) read the default location, whatever SLURM_CONF says
  mkdir -p /etc/slurm
  if [ ! -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
    ln -sf "$CONF" /etc/slurm/slurm.conf
  fi
}

start_munge() {
  mkdir -p /etc/munge /var/run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown -R munge:munge /etc/munge /var/run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  if ! munge -n >/dev/null 2>&1; then
    # as the munge user (it cannot write into $DIR), else as root; its PID is recorded here
    runuser -u munge -- /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
    pgrep -n -x munged > "$DIR/munged.pid"
  fi
}

start() {
  install
  write_conf
  start_munge
  export SLURM_CONF="$CONF"
  slurmctld -f "$CONF" -i
  slurmd -f "$CONF"
  for _ in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -q -E "idle|mix|alloc"; then
      echo "SLURM_CONF=$CONF"
      return 0
    fi
    sleep 1
  done
  echo "SLURM did not come up; logs in $DIR/log" >&2
  tail -20 "$DIR/log/"*.log >&2 || true
  return 1
}

stop() {
  for daemon in slurmd slurmctld munged; do
    if [ -s "$DIR/$daemon.pid" ]; then
      kill "$(cat "$DIR/$daemon.pid")" 2>/dev/null || true
      rm -f "$DIR/$daemon.pid"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

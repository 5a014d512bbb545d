#!/usr/bin/env bash
# The pipeline on a real one-node SLURM cluster (no accounting, one fake GPU), built in a temp folder:
#   a. config/test.yaml locally and through profiles/slurm: every results/tables/ file byte-identical;
#   b. the `darts` target on real images (the digits group) through profiles/slurm (GPU jobs: --gpus=1);
#   c. a long search job cancelled with scancel mid-run, then rerun: it resumes from its checkpoint and
#      gives the result of an uninterrupted local run.
# Run by .ci/run, or alone (as root, on Debian): CI=true bash .ci/slurm.sh. Installs slurm-wlm and munge
# with apt-get if missing. Any failure exits non-zero; the daemons are stopped by PID on exit.
# KTNAS_LOCAL_WORK=DIR reuses a finished local run of config/test.yaml (the one .ci/run just did).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
t_start=$(date +%s)
say() { echo "::: slurm: $*"; }
fail() {
  echo "::: slurm: FAILED: $*" >&2
  exit 1
}
command -v snakemake > /dev/null || . .venv/bin/activate

if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v munged > /dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq > /dev/null
  apt-get install -y -qq slurm-wlm munge > /dev/null
fi

tmp=$(mktemp -d /tmp/ktnas-slurm.XXXXXX)
chmod 755 "$tmp"
daemons=()   # PIDs, stopped in reverse order
bg_smk=""    # a snakemake run in the background (check c)
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ -n $bg_smk ]] && kill -INT "$bg_smk" 2> /dev/null && wait "$bg_smk" 2> /dev/null
  if [[ ${#daemons[@]} -gt 1 ]]; then  # slurmctld is up: cancel what is left, let slurmstepd finish
    scancel --partition=ci 2> /dev/null
    for _ in $(seq 30); do [[ -z $(squeue -h -o %i 2> /dev/null) ]] && break; sleep 1; done
  fi
  if [[ $rc -ne 0 ]]; then
    for f in "$tmp"/slurmctld.log "$tmp"/slurmd.log; do
      [[ -f $f ]] && echo "--- tail of $f" && tail -n 20 "$f"
    done
  fi
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do kill "${daemons[i]}" 2> /dev/null; done
  for pid in "${daemons[@]}"; do wait "$pid" 2> /dev/null; done
  [[ -n ${KTNAS_KEEP_SLURM_TMP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"
  say "$([[ $rc -eq 0 ]] && echo passed || echo "failed (exit $rc)") after $(($(date +%s) - t_start)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a one-node cluster: munged, slurmctld, slurmd as root, state and logs in $tmp ----------------------
node=$(hostname -s)
hw=$(slurmd -C | head -n 1) # NodeName=... CPUs=... Boards=... RealMemory=...
gpus=2 # fake ones (gres.conf below): two GPU jobs at once on two CPUs; the jobs run on the CPU
mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$hw")
hw=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem * 9 / 10))/" <<< "$hw") # a bit below what slurmd sees
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
mkdir -m 755 "$tmp/munge" "$tmp/state" "$tmp/spool"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$tmp/munge/munge.key"
export SLURM_CONF=$tmp/slurm.conf # for the daemons, the client commands, snakemake and the jobs
cat > "$SLURM_CONF" << EOF
ClusterName=ktnasci
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to squeue (the status command here) for an hour
MinJobAge=3600
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
$hw Gres=gpu:$gpus NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# A gpu GRES needs a device file per GPU (Count= alone makes slurmd report 0); any device will do.
printf "NodeName=$node Name=gpu File=%s\n" /dev/null /dev/zero > "$tmp/gres.conf"
# Inside a job, snakemake-executor-plugin-slurm-jobstep drops every SLURM_* variable, SLURM_CONF too,
# before it calls srun; clusters keep slurm.conf where srun looks by default (or run configless), this
# temporary one does not, so its srun gets SLURM_CONF back from a shim.
mkdir "$tmp/bin"
printf '#!/bin/sh\nSLURM_CONF=%q exec %q "$@"\n' "$SLURM_CONF" "$(command -v srun)" > "$tmp/bin/srun"
chmod 755 "$tmp/bin/srun"
export PATH=$tmp/bin:$PATH
say "node: $hw Gres=gpu:$gpus"

munged -F --force --socket="$tmp/munge/munge.socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" \
  --log-file="$tmp/munged.log" > "$tmp/munged.out" 2>&1 &
daemons+=($!)
for _ in $(seq 50); do [[ -S $tmp/munge/munge.socket ]] && break; sleep 0.2; done
slurmctld -D -i -f "$SLURM_CONF" > "$tmp/slurmctld.out" 2>&1 &
daemons+=($!)
slurmd -D -f "$SLURM_CONF" > "$tmp/slurmd.out" 2>&1 &
daemons+=($!)
for i in $(seq 60); do
  [[ $(sinfo -h -N -o %t 2> /dev/null) == idle ]] && break
  [[ $i -eq 60 ]] && { sinfo -N -l; cat "$tmp"/*.out; fail "node $node not idle after 60 s"; }
  sleep 1
done
sinfo -N -o "%N %t %c %m %G %P"

# --- Snakemake: local, and through the SLURM profile with this site's settings on the command line ----
# `timeout -s INT`: Snakemake stops (and cancels its SLURM jobs) on SIGINT, not on SIGTERM.
# config/test.yaml is the experiment; the global profile profiles/test adds its run-time caps
local_smk=(snakemake -s "$repo/Snakefile" --profile "$repo/profiles/test" --configfile "$repo/config/test.yaml" --cores 2)
slurm_smk=(snakemake -s "$repo/Snakefile" --workflow-profile "$repo/profiles/slurm" --profile "$repo/profiles/test"
  --configfile "$repo/config/test.yaml"
  --slurm-status-command squeue --slurm-no-account --slurm-init-seconds-before-status-checks 2)
run() { # run NAME TIMEOUT_S CMD...: output in $tmp/NAME.log, shown on failure
  local name=$1 limit=$2
  shift 2
  local rc=0
  timeout -s INT -k 30 "$limit" "$@" > "$tmp/$name.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    tail -n 60 "$tmp/$name.log"
    fail "$name: exit $rc ($*)"
  fi
}
submitted() { grep -c "has been submitted with SLURM jobid" "$tmp/$1.log" || true; }
tables() { (cd "$1/results/tables" && find . -type f ! -name 'darts_*' | sort); }

# a. test config, locally and on SLURM: identical tables
local_dir=${KTNAS_LOCAL_WORK:-$tmp/local}
slurm_dir=$tmp/slurm
if [[ -z ${KTNAS_LOCAL_WORK:-} ]]; then
  t=$(date +%s)
  run local 900 "${local_smk[@]}" -d "$local_dir" --quiet rules
  say "a. local test-config run took $(($(date +%s) - t)) s"
fi
t=$(date +%s)
run slurm 900 "${slurm_smk[@]}" -d "$slurm_dir"
n_a=$(submitted slurm)
say "a. SLURM test-config run took $(($(date +%s) - t)) s, $n_a jobs submitted"
[[ $n_a -gt 0 ]] || fail "a. no job was submitted to SLURM"
[[ ! -e $slurm_dir/results/search/nb201/emtnas ]] || fail "a. jobs ran methods that config/test.yaml lacks"
diff <(tables "$local_dir") <(tables "$slurm_dir") || fail "a. the two runs made different table files"
n_tables=0
while read -r f; do
  cmp "$local_dir/results/tables/$f" "$slurm_dir/results/tables/$f" || fail "a. $f differs"
  n_tables=$((n_tables + 1))
done < <(tables "$slurm_dir")
say "a. all $n_tables files under results/tables/ are byte-identical (local vs SLURM)"

# b. the DARTS path on real images (the digits group); its GPU jobs ask --gpus=1
t=$(date +%s)
run darts 900 "${slurm_smk[@]}" -d "$slurm_dir" darts
n_b=$(submitted darts)
test -s "$slurm_dir/results/tables/darts_digits.csv" || fail "b. no DARTS table"
squeue -h --states=all -O "JobID:6,tres-per-job:12,NumCPUs:5,MinMemory:8,TimeLimit:12,State:10" \
  | grep "gres:gpu" > "$tmp/gpu-jobs.txt" || true
sed 's/^/    /' "$tmp/gpu-jobs.txt" # job, GPUs, CPUs, memory, time limit, state
gpu_jobs=$(grep -c "gres:gpu:1 .*COMPLETED" "$tmp/gpu-jobs.txt" || true)
say "b. SLURM darts run took $(($(date +%s) - t)) s, $n_b jobs submitted, $gpu_jobs of them completed with --gpus=1"
[[ $gpu_jobs -ge 12 ]] || fail "b. expected 12 GPU jobs (4 searches, 8 retrainings), saw $gpu_jobs"

# c. cancel a long search mid-run, rerun, compare with the same job run uninterrupted locally
target=results/search/nb201/ktnas/seeds0-0.done # the job's manifest; its result file is seed0.json
result=results/search/nb201/ktnas/seed0.json
ckpt=$slurm_dir/results/checkpoints/nb201/ktnas/seed0.json
resume=(--configfile "$repo/.ci/resume.yaml")
# the test-config runs left a seed0.json (other parameters) in both folders; this run writes its own
rm -f "$local_dir/$result" "$slurm_dir/$result"
t=$(date +%s)
run resume-local 600 "${local_smk[@]}" "$target" -d "$local_dir" "${resume[@]}"
say "c. uninterrupted local run of the long search took $(($(date +%s) - t)) s"
t=$(date +%s)
timeout -s INT -k 30 600 "${slurm_smk[@]}" "$target" -d "$slurm_dir" "${resume[@]}" --retries 0 \
  > "$tmp/resume-killed.log" 2>&1 &
bg_smk=$!
gen() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"]["generation"])' "$ckpt" 2> /dev/null || echo 0; }
for i in $(seq 600); do
  [[ -f $ckpt && $(gen) -ge 5 ]] && break
  kill -0 "$bg_smk" 2> /dev/null || { tail -n 40 "$tmp/resume-killed.log"; fail "c. the run ended before its checkpoint"; }
  [[ $i -eq 600 ]] && fail "c. no checkpoint after 300 s"
  sleep 0.5
done
jobid=$(sed -n 's/.*has been submitted with SLURM jobid \([0-9]*\).*/\1/p' "$tmp/resume-killed.log" | tail -n 1)
scancel "$jobid"
say "c. scancel $jobid at generation $(gen) of 200"
if wait "$bg_smk"; then fail "c. the cancelled run succeeded"; fi
bg_smk=""
killed_at=$(gen)
test -f "$ckpt" && test ! -e "$slurm_dir/$target" && test ! -e "$slurm_dir/$result" \
  || fail "c. no checkpoint left, or an output, after scancel"
grep -m 1 "CANCELLED" "$tmp/resume-killed.log" || fail "c. Snakemake did not see the job cancelled"
run resume 600 "${slurm_smk[@]}" "$target" -d "$slurm_dir" "${resume[@]}"
log=$slurm_dir/logs/search/nb201/ktnas/seeds0-0.log
grep "resuming from .*(generation $killed_at)" "$log" || { cat "$log"; fail "c. the rerun did not resume"; }
python3 - "$local_dir/$result" "$slurm_dir/$result" << 'EOF' || fail "c. resumed result differs from the uninterrupted one"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    d.pop("ktnas_version", None), d.pop("git_sha", None)
sys.exit(a != b)
EOF
say "c. cancel + resumed rerun took $(($(date +%s) - t)) s, $(submitted resume-killed) + $(submitted resume) jobs submitted; result identical to the uninterrupted run"
n_smk=$((n_a + n_b + $(submitted resume-killed) + $(submitted resume)))
n_ctld=$(grep -c "_slurm_rpc_submit_batch_job: JobId=" "$tmp/slurmctld.log" || true)
say "slurmctld accepted $n_ctld batch jobs in all; the Snakemake logs report $n_smk submitted"
[[ $n_ctld -eq $n_smk ]] || fail "job counts differ"

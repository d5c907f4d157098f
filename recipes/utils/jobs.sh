#!/usr/bin/env bash
# Training runs in parallel: a run.sh sets `jobs` and `gpus`, sources this file, then calls
# run_jobs for each run and check_jobs to wait for them all. The plan comes from
# asteroid_wsas/engine/packing.py (its docstring has the rules):
#   - on the CPU (gpus=0, or auto without a GPU): jobs=auto is 2 on 2+ cores, else 1;
#   - on N GPUs: several runs share each GPU (jobs=auto: up to 8 per GPU, one core per run,
#     within each GPU's free memory); each run sees one GPU (CUDA_VISIBLE_DEVICES, slots
#     round robin over the GPUs), so train.py gets --gpus "$run_gpus" (1);
# a given jobs is kept; each run has $threads = cores / jobs threads (OMP_NUM_THREADS).
# Sets: jobs, threads, run_gpus (the --gpus of each run's train.py), slot_devices.

# by path: importing asteroid_wsas would load torch (seconds) for a stdlib-only module
packing_py=$(python -c "import importlib.util as u
print(u.find_spec('asteroid_wsas').submodule_search_locations[0])")/engine/packing.py
# nproc: the cores this shell may use (it also honours OMP_NUM_THREADS, as it always did here)
packing=$(python "$packing_py" --shell --gpus "$gpus" --jobs "$jobs" --cores "$(nproc)") ||
  { echo "utils/jobs.sh: see --gpus / --jobs above" >&2; exit 1; }
read -r jobs threads run_gpus packing <<<"$packing"
read -r -a slot_devices <<<"$packing"  # one per slot: a CUDA_VISIBLE_DEVICES value, - (CPU)
unset packing packing_py

# run_jobs MESSAGE LOG COMMAND...: in the background, at most $jobs at a time, with
# $threads threads and its slot's GPU; output in LOG; a failure leaves LOG.failed
# (check_jobs reports it)
job_logs=()
slot_pids=()  # the pid of each slot's last run
# free_slot: sets `slot` to a slot whose run has ended (or never started); else returns 1
free_slot() {
  local running
  running=" $(jobs -rp | tr '\n' ' ') "
  for ((slot = 0; slot < jobs; slot++)); do
    [[ -z ${slot_pids[slot]:-} || $running != *" ${slot_pids[slot]} "* ]] && return 0
  done
  return 1
}
run_jobs() {
  local message=$1 log=$2 slot device
  shift 2
  while ! free_slot; do wait -n || true; done
  device=${slot_devices[slot]}
  if [ "$device" = - ]; then say "$message"; else say "$message (GPU $device)"; fi
  mkdir -p "$(dirname "$log")"
  rm -f "$log.failed"
  (
    # on the CPU the environment stays as it is
    if [ "$device" != - ]; then export CUDA_VISIBLE_DEVICES=$device; fi
    export OMP_NUM_THREADS=$threads
    "$@" >"$log" 2>&1 || touch "$log.failed"
  ) &
  slot_pids[slot]=$!
  job_logs+=("$log")
}
check_jobs() {
  wait
  local log failed=0
  for log in "${job_logs[@]}"; do
    if [ -f "$log.failed" ]; then
      echo "failed: the end of $log below" >&2
      tail -n 20 "$log" >&2
      failed=1
    fi
  done
  job_logs=()
  slot_pids=()
  [ "$failed" = 0 ] || exit 1
}

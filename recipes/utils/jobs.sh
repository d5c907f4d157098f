#!/usr/bin/env bash
# Training runs in parallel: a run.sh sets `jobs` (auto: 2 on a CPU with 2+ cores and no
# GPU, else 1) and `gpus`, sources this file, then calls run_jobs for each run and
# check_jobs to wait for them all.
[ "$jobs" = auto ] && jobs=$([ "$gpus" = 0 ] && [ "$(nproc)" -ge 2 ] && echo 2 || echo 1)
threads=$(($(nproc) / jobs > 0 ? $(nproc) / jobs : 1))
# run_jobs MESSAGE LOG COMMAND...: in the background, at most $jobs at a time, with
# $threads threads; output in LOG; a failure leaves LOG.failed (check_jobs reports it)
job_logs=()
run_jobs() {
  local message=$1 log=$2
  shift 2
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  say "$message"
  mkdir -p "$(dirname "$log")"
  rm -f "$log.failed"
  { OMP_NUM_THREADS=$threads "$@" >"$log" 2>&1 || touch "$log.failed"; } &
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
  [ "$failed" = 0 ] || exit 1
}

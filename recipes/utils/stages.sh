#!/usr/bin/env bash
# The stages every recipe shares, as functions. A recipe's run.sh declares its options,
# sources parse_options.sh, sets `dataset` and `root`, sources this file and calls
# run_stages (or the stage functions one by one, as the synthetic main job does).
#
# Variables read: dataset root conf stage stop_stage tag objective encoder encoder_steps
# max_steps gpus num_nodes n_examples force.
set -euo pipefail

data_dir=data        # fixed test / validation manifests, prompts (Asteroid egs: data/)
exp_root=exp

# asteroid-wsas of the active Python environment, started as the console script starts it
# (asteroid_wsas_cli: a command imports Asteroid only when it loads a model)
wsas() { python -m asteroid_wsas_cli "$@"; }
# found, not imported: importing it costs every run.sh (and each of its own calls) seconds
if ! python -c "import importlib.util as u, sys
sys.exit(not (u.find_spec('asteroid_wsas') and u.find_spec('asteroid_wsas_cli')))" 2>/dev/null
then
  echo "$(command -v python || echo python): cannot import asteroid_wsas; activate the" \
    "environment it is installed in (pip install -e . at the repository root)" >&2
  exit 1
fi

in_stages() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

# steps_of NAME=DIR...: the budget the runs under the rows' DIRs trained with (each run's
# conf.yml, training.max_steps; "a/b" when they differ), for a table's title: a table made
# by stage 4 alone says what its runs ran, not this call's --max_steps. $max_steps without runs.
steps_of() {
  python - "$max_steps" "$@" <<'EOF'
import glob
import os
import sys

import yaml

found = []
for row in sys.argv[2:]:
    folder = row.split("=", 1)[-1]
    for conf in sorted(glob.glob(os.path.join(folder, "seed*", "conf.yml"))):
        with open(conf, encoding="utf-8") as f:
            steps = ((yaml.safe_load(f) or {}).get("training") or {}).get("max_steps")
        if steps is not None and str(steps) not in found:
            found.append(str(steps))
print("/".join(found) or sys.argv[1])
EOF
}

say() { echo "[$(date +%H:%M:%S)] $*"; }

# sources per mixture of the recipe's config (data.n_sources, 2 by default)
n_sources() {
  python -c "import yaml; print(yaml.safe_load(open('$conf'))['data'].get('n_sources', 2))"
}

# path of the frozen encoder: the small one of stage 2, or a CLAP folder / hub id
encoder_path() {
  if [ "$encoder" = tiny ]; then echo "$exp_root/encoder/tiny.pth"; else echo "$encoder"; fi
}

stage0_data() {
  local listing
  listing=$(python -c "from asteroid_wsas.data import get_dataset_class as D; \
print(D('$dataset').listing.format(split='train'))")
  if [ -f "$root/$listing" ] && [ -d "$root/audio" ]; then
    say "stage 0: $root already holds $dataset ($listing, audio/); nothing to fetch"
    return
  fi
  say "stage 0: fetching $dataset into $root"
  if ! wsas download "$dataset" "$root"; then
    echo "stage 0 failed: put the data in place as described above, then rerun with --stage 1" >&2
    exit 1
  fi
}

stage1_prepare() {
  local n
  n=$(n_sources)
  if [ -f "$data_dir/test_${n}mix.json" ] && [ "$force" != true ]; then
    say "stage 1: $data_dir/test_${n}mix.json exists (--force true rebuilds it)"
    return
  fi
  say "stage 1: fixed test and validation mixtures -> $data_dir/"
  wsas prepare "$conf" --root "$root" -o "$data_dir" --force ${protocol:+--protocol "$protocol"}
}

stage2_encoder() {
  if [ "$encoder" != tiny ]; then
    say "stage 2: skipped (encoder: $encoder)"
    return
  fi
  local out
  out=$(encoder_path)
  if [ -f "$out" ] && [ "$force" != true ]; then
    say "stage 2: $out exists (--force true retrains it)"
    return
  fi
  say "stage 2: small bimodal encoder on the training mixtures and their captions -> $out"
  wsas train-encoder --conf "$conf" --root "$root" -o "$out" --steps "$encoder_steps" \
    --log-every "$((encoder_steps / 4 > 0 ? encoder_steps / 4 : 1))" --force
}

# stage3_train TAG OBJECTIVE [METHOD]: a method (a row of the paper's tables) replaces the
# objective when given
stage3_train() {
  local exp_dir=$exp_root/$1 n what=(--objective "$2")
  n=$(n_sources)
  [ -n "${3:-}" ] && what=(--method "$3")
  say "stage 3: ${3:-$2} separator -> $exp_dir (resumes from checkpoints/last.ckpt)"
  local extra=()
  [ -n "$max_steps" ] && extra+=(--max-steps "$max_steps")
  [ "$force" = true ] && extra+=(--force --restart)
  # AudioCaps: the phrases of stage 1, as corrected by hand
  [ -f "$data_dir/train_phrases.json" ] && extra+=(--set "data.phrases=$PWD/$data_dir/train_phrases.json")
  python train.py "$conf" --root "$root" --exp-dir "$exp_dir" "${what[@]}" \
    --encoder "$(encoder_path)" --gpus "$gpus" --num-nodes "$num_nodes" \
    --val-manifest "$data_dir/val_${n}mix.json" "${extra[@]}"
}

# stage4_eval TAG
stage4_eval() {
  local exp_dir=$exp_root/$1 n
  n=$(n_sources)
  say "stage 4: $1 on the fixed $n-source test set"
  python eval.py "$data_dir/test_${n}mix.json" -o "$exp_dir" --model "$exp_dir/best_model.pth" \
    --force
  if [ -f "$data_dir/test_events.json" ]; then  # clean events: phrase queries on natural clips
    say "stage 4: $1 on the phrase-level set (each clip's events queried by their phrases)"
    python eval.py "$data_dir/test_events.json" -o "$exp_dir/events" \
      --model "$exp_dir/best_model.pth" --force
  fi
}

# stage5_examples TAG
stage5_examples() {
  local exp_dir=$exp_root/$1 n
  n=$(n_sources)
  say "stage 5: $n_examples example separations and the training curve of $1"
  wsas examples "$data_dir/test_${n}mix.json" -o "$exp_dir/examples" \
    --model "$exp_dir/best_model.pth" -n "$n_examples" --force
  wsas compare "$1=$exp_dir" --curves "$exp_dir/val_sdr.png" --force
}

run_stages() {
  tag=${tag:-${method:-$objective}_$(basename "$encoder" .pth)}
  in_stages 0 && stage0_data
  in_stages 1 && stage1_prepare
  in_stages 2 && stage2_encoder
  in_stages 3 && stage3_train "$tag" "$objective" "$method"
  in_stages 4 && stage4_eval "$tag"
  in_stages 5 && stage5_examples "$tag"
  say "done: $exp_root/$tag"
}

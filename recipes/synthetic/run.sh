#!/usr/bin/env bash
# The main job: the paper's comparison (Table 1 shape) offline, on a CPU, in one command.
#
# Generates captioned solos of ten sound classes in MUSIC's layout, trains the small bimodal
# encoder on their 2-source mixtures and captions only, trains mix-and-separate, weak and
# supervised separators with the same budget, scores all and the unprocessed mixture on
# one fixed 2-source test set, and writes exp/results.md, example wavs and PNGs.
#   bash recipes/synthetic/run.sh                 # about 15 minutes on 2 CPU cores
#   bash recipes/synthetic/run.sh --max_steps 50 --encoder_steps 50   # a quick look
cd "$(dirname "$0")"

. ../utils/options.sh  # stage, stop_stage, conf, tag, ... (--help)
objectives="mix_and_separate weak supervised" # the separators compared (Table 1's rows)
encoder=tiny          # tiny (trained in stage 2 on mixtures only), or a CLAP folder / hub id
encoder_steps=1000    # stage 2 steps
per_class=20          # generated recordings per sound class
gpus=0                # 0: CPU (the job is sized for it); auto uses a GPU when present
n_examples=3          # example separations per separator in stage 5
. ../utils/parse_options.sh
. ../utils/stages.sh
dataset=music
root=data/synthetic
start=$SECONDS

if in_stages 0; then
  if [ -f "$root/MUSIC_solo_videos.json" ] && [ "$force" != true ]; then
    say "stage 0: $root exists"
  else
    say "stage 0: generating $per_class recordings per sound class -> $root"
    rate=$(python -c "import yaml; print(yaml.safe_load(open('$conf'))['data']['sample_rate'])")
    wsas generate music "$root" --per-class "$per_class" --seconds 4 --sample-rate "$rate" --force
  fi
fi
in_stages 1 && stage1_prepare
in_stages 2 && stage2_encoder
for objective in $objectives; do
  in_stages 3 && stage3_train "$objective" "$objective"
  in_stages 4 && stage4_eval "$objective"
done
if in_stages 4; then
  say "stage 4: the unprocessed mixture (the table's first row)"
  wsas evaluate "$data_dir/test_2mix.json" -o "$exp_root/mixture" --mixture --force
  rows=("Mixture=$exp_root/mixture")
  for objective in $objectives; do rows+=("$objective=$exp_root/$objective"); done
  wsas compare "${rows[@]}" -o "$exp_root/results.md" --curves "$exp_root/val_sdr.png" \
    --title "Synthetic 2-source test set, SDR/SIR/SAR in dB (mean ± std)" --force
fi
if in_stages 5; then
  for objective in $objectives; do stage5_examples "$objective"; done
fi
say "done in $((SECONDS - start)) s: $PWD/$exp_root/results.md, val_sdr.png, */examples/"

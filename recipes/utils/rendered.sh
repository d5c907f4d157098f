#!/usr/bin/env bash
# Stages of the offline recipes on rendered instrument solos (synthetic, paper_tables): a
# run.sh sets root, per_class, render_seed, encoder and encoder_steps, sources stages.sh,
# then this file.

# teacher_of N [SUFFIX]: the small encoder of N-source training, trained on N-source
# mixtures only (SUFFIX: of more data, e.g. _vggsound), or the recipe's --encoder when it is
# not tiny
teacher_of() {
  if [ "$encoder" = tiny ]; then
    echo "${encoder_root:-$exp_root}/encoder/tiny_${1}src${2:-}.pth"
  else
    echo "$encoder"
  fi
}

# stage0_render [DATASET ROOT [SECONDS [--frames ...]]]: rendered recordings of SECONDS (8)
# in DATASET's layout (default: MUSIC's, at $root), kept when present unless --force true;
# further options go to generate (--frames: drawn video frames too, which a layout rendered
# without them gains by rendering again: the audio comes out the same)
stage0_render() {
  local dataset=${1:-music} out=${2:-$root} seconds=${3:-8} listing rate
  shift $(($# < 3 ? $# : 3))
  listing=$(python -c "from asteroid_wsas.data import get_dataset_class as D; \
print(D('$dataset').listing.format(split='train'))")
  rate=$(python -c "import yaml; print(yaml.safe_load(open('$conf'))['data']['sample_rate'])")
  if [ -f "$out/$listing" ] && [ "$force" != true ] &&
    { [[ " $* " != *" --frames "* ]] || [ -d "$out/frames" ]; }; then
    # a set rendered with other settings is not silently reused under this run's name
    python ../utils/check_rendered.py "$out" --dataset "$dataset" --sample-rate "$rate" \
      --seed "$render_seed" --per-class "$per_class" || exit 1
    say "stage 0: $out exists"
    return
  fi
  say "stage 0: rendering $per_class $dataset-layout recordings per class -> $out"
  wsas generate "$dataset" "$out" --sounds rendered --per-class "$per_class" --seconds "$seconds" \
    --sample-rate "$rate" --seed "$render_seed" --force "$@"
}

# stage2_teachers "N..." [SUFFIX STEPS [--set KEY=VALUE...]]: one small encoder per
# training-mixture size, one at a time on every core (logs beside each .pth; the held-out
# retrieval lines are printed); SUFFIX names them (teacher_of), STEPS replaces
# encoder_steps and the options go to train-encoder (e.g. a second dataset's captions)
stage2_teachers() {
  [ "$encoder" = tiny ] || return 0
  local n out counts=$1 suffix=${2:-} steps=${3:-$encoder_steps} data=(--root "$root")
  shift $(($# < 3 ? $# : 3))
  [[ " $* " == *" data.root="* ]] && data=()  # another dataset's mixtures
  for n in $counts; do
    out=$(teacher_of "$n" "$suffix")
    if [ -f "$out" ] && [ "$force" != true ]; then
      say "stage 2: $out exists (--force true retrains it)"
      continue
    fi
    say "stage 2: small bimodal encoder on the $n-source training mixtures and captions -> $out"
    mkdir -p "$(dirname "$out")"
    wsas train-encoder --conf "$conf" "${data[@]}" --set "data.n_sources=$n" "$@" -o "$out" \
      --steps "$steps" --log-every "$((steps / 4 > 0 ? steps / 4 : 1))" \
      --force >"${out%.pth}.log" 2>&1 || { tail -n 20 "${out%.pth}.log" >&2; exit 1; }
    grep -h "^held-out" "${out%.pth}.log" || true
  done
}

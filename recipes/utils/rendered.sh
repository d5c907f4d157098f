#!/usr/bin/env bash
# Stages of the offline recipes on rendered instrument solos (synthetic, paper_tables): a
# run.sh sets root, per_class, render_seed, encoder and encoder_steps, sources stages.sh,
# then this file.

# teacher_of N: the small encoder of N-source training, trained on N-source mixtures only
# (or the recipe's --encoder when it is not tiny)
teacher_of() {
  if [ "$encoder" = tiny ]; then echo "$exp_root/encoder/tiny_${1}src.pth"; else echo "$encoder"; fi
}

# stage 0: the rendered solos in MUSIC's layout (kept when present, unless --force true)
stage0_render() {
  if [ -f "$root/MUSIC_solo_videos.json" ] && [ "$force" != true ]; then
    say "stage 0: $root exists"
    return
  fi
  say "stage 0: rendering $per_class recordings per instrument -> $root"
  local rate
  rate=$(python -c "import yaml; print(yaml.safe_load(open('$conf'))['data']['sample_rate'])")
  wsas generate music "$root" --sounds rendered --per-class "$per_class" --seconds 8 \
    --sample-rate "$rate" --seed "$render_seed" --force
}

# stage2_teachers "N...": one small encoder per training-mixture size, one at a time on
# every core (logs beside each .pth; the held-out retrieval lines are printed)
stage2_teachers() {
  [ "$encoder" = tiny ] || return 0
  local n out
  for n in $1; do
    out=$(teacher_of "$n")
    if [ -f "$out" ] && [ "$force" != true ]; then
      say "stage 2: $out exists (--force true retrains it)"
      continue
    fi
    say "stage 2: small bimodal encoder on the $n-source training mixtures and captions -> $out"
    mkdir -p "$(dirname "$out")"
    wsas train-encoder --conf "$conf" --root "$root" --set "data.n_sources=$n" -o "$out" \
      --steps "$encoder_steps" --log-every "$((encoder_steps / 4 > 0 ? encoder_steps / 4 : 1))" \
      --force >"${out%.pth}.log" 2>&1 || { tail -n 20 "${out%.pth}.log" >&2; exit 1; }
    grep -h "^held-out" "${out%.pth}.log" || true
  done
}

#!/usr/bin/env bash
# The seed's Table 1 (unconditional, image, text and proposed rows) and Table 2 offline, in
# one command.
#
# Renders the main job's instrument solos (recipes/synthetic) with drawn video frames (the
# image rows' queries; a small CLIP learns them in stage 2 unless --image names one) and, for Table 2's
# cross-dataset rows, single-event clips in VGGSound's layout; trains the small bimodal
# encoder on 2-, 3- and 4-source training mixtures of both (the teachers and the offline
# stand-in for CLAP), trains every cell of both tables with the same model and budget,
# scores all on one fixed 2-source MUSIC test set and writes both tables in the seed's shape
# with 95 % intervals (exp/results.md, .json, exp/results_table1.png, exp/results_table2.png).
#   bash recipes/paper_tables/run.sh --quick true   # 2 CPU cores: 1 seed, fewer steps
#   bash recipes/paper_tables/run.sh                # full: 3 seeds, 1000 steps (a GPU)
#   bash recipes/paper_tables/run.sh --methods "weak mixit" --fractions none --quick true
cd "$(dirname "$0")"

. ../utils/options.sh  # stage, stop_stage, conf, force, ... (--help)
quick=false           # true: 1 seed, quick_steps steps of quick_batch, fewer encoder steps
quick_steps=120       # training steps per run in --quick mode (validated at half and end)
quick_batch=4         # mixtures per step in --quick mode (the config's 8 otherwise)
seeds=auto            # training seeds (auto: 0 with --quick, else 0 1 2)
encoder=tiny          # tiny (trained in stage 2 on mixtures only), or a CLAP folder / hub id
encoder_steps=auto    # stage 2 steps (auto: 400 with --quick, else 1000)
methods=auto          # Table 1's rows (auto: all; asteroid-wsas paper-runs lists the runs)
counts="2 3 4"        # sources per training mixture (Table 1's columns, Table 2's rows)
fractions="5 10 25 75" # clean % of Table 2's semi-supervised rows (none: Table 1 only)
cross=vggsound        # Table 2's cross-dataset rows with this second dataset (none: without)
cross_root=data/rendered_vggsound  # its rendered clips (the 14 event classes, same length)
captions=audiocaps    # Table 2's captioned part on this dataset (none: without; needs cross)
captions_root=data/rendered_audiocaps  # its rendered clips (1 to 4 events, one segment long)
only=""               # the cells whose folder matches one of these patterns (wsas paper-runs)
bert=""               # BertSep*, LASS-Net: BERT folder / hub id (empty: see the docs)
clip=""               # CLIPSep-Text(*): CLIP folder / hub id (empty: see the docs)
images=auto           # Table 1's image rows (CLIPSep-Img(*), CoSep*, SOP*); none: without
image=""              # their CLIP, both towers: folder / hub id (empty: a small CLIP, stage 2)
clip_steps=300        # stage 2 steps of the small CLIP
frame_size=64         # side of the drawn frames (and of the frames the image rows read)
per_class=20          # rendered recordings per instrument
render_seed=1         # seed of the recordings
gpus=default          # default: 0 with --quick (CPU), else auto (every GPU present, runs packed several per GPU)
jobs=auto             # runs trained at once (auto: 2 on a CPU with 2+ cores, else 1; on GPUs up to 8 per GPU: docs/performance.md)
. ../utils/parse_options.sh
. ../utils/stages.sh
. ../utils/rendered.sh  # stage0_render, stage2_teachers, teacher_of
root=data/rendered
start=$SECONDS
[ "$gpus" = default ] && gpus=$([ "$quick" = true ] && echo 0 || echo auto)
if [ "$seeds" = auto ]; then
  seeds="0 1 2"
  [ "$quick" = true ] && seeds=0
fi
if [ "$encoder_steps" = auto ]; then
  encoder_steps=1000
  [ "$quick" = true ] && encoder_steps=400
fi
[ "$quick" = true ] && [ -z "$max_steps" ] && max_steps=$quick_steps
if [ "$quick" = true ] && [ "$gpus" = 0 ] &&
  ! python -c "import sys; from asteroid_wsas.utils import fast_bf16
sys.exit(0 if fast_bf16('cpu') else 1)"; then
  # measured: 30 min on 2 Intel cores with AMX; held to AVX2 (fp32) the same cores took
  # 48 min for 49 of the runs while shared; an AVX2-only AMD EPYC took 3 to 4 times as long
  # as the AMX machine for the same work (the cores, more than bf16)
  say "note: a CPU without AVX512-BF16 / AMX: --quick may take 90 to 120 minutes on 2 cores" \
    "here; --images none, --captions none and --cross none leave out runs" \
    "(docs/recipes/paper_tables.md)"
fi
selection=(--counts $counts)
[ "$methods" != auto ] && selection+=(--methods $methods)
if [ "$fractions" = none ]; then selection+=(--no-table2); else selection+=(--fractions $fractions); fi
[ "$fractions" = none ] && cross=none
[ "$cross" = none ] && captions=none
[ "$images" = none ] && selection+=(--no-images)
if [ -n "$only" ]; then
  read -r -a patterns <<<"$only"  # no globbing against the files here
  selection+=(--only "${patterns[@]}")
fi
[ "$cross" != none ] && selection+=(--cross "$cross")
[ "$captions" != none ] && selection+=(--captions "$captions")
declare -A roots=([music]=$root [$cross]=$cross_root [$captions]=$captions_root)
root_args=()
for name in "${!roots[@]}"; do
  [ "$name" != none ] && root_args+=(--data-root "$name=${roots[$name]}")
done

# text_encoder KIND OPTION DEFAULT: the option, else the default when the hub cache holds
# it (no network), else nothing (the rows then query with the recipe's encoder)
text_encoder() {
  if [ -n "$2" ]; then
    echo "$2"
  elif python -c "import sys; from huggingface_hub import try_to_load_from_cache as cached
sys.exit(0 if isinstance(cached('$3', 'config.json'), str) else 1)" 2>/dev/null; then
    echo "$1:$3"
  fi
}

segment=$(python -c "import yaml; print(yaml.safe_load(open('$conf'))['data']['segment'])")
render_frames=()
[ "$images" != none ] && render_frames=(--frames --fps 2 --frame-size "$frame_size")
if in_stages 0; then
  stage0_render music "$root" 8 "${render_frames[@]}"
  [ "$cross" != none ] && stage0_render "$cross" "$cross_root"
  # captioned clips one training segment long: a caption names what the crop holds
  [ "$captions" != none ] && stage0_render "$captions" "$captions_root" "$segment"
fi
. ../utils/jobs.sh  # run_jobs, check_jobs

bert_spec=$(text_encoder bert "$bert" bert-base-uncased)
clip_spec=$(text_encoder clip "$clip" openai/clip-vit-base-patch32)
notes=()
# the image rows' CLIP: --image, else OpenAI's from the hub cache, else a small one (stage 2)
image_spec=$(text_encoder clip_image "$image" openai/clip-vit-base-patch32)
image_spec=${image_spec#clip_image:}
small_clip=$exp_root/encoder/small_clip
[ -z "$image_spec" ] && image_spec=$PWD/$small_clip
fallback=()
[ -z "$bert_spec" ] && fallback+=(bert) && notes+=(--note "BertSep* and LASS-Net: no BERT here (--bert); their queries came from the small encoder's text tower.")
[ -z "$clip_spec" ] && fallback+=(clip) && notes+=(--note "CLIPSep-Text and CLIPSep-Text*: no CLIP here (--clip); their queries came from the small encoder's text tower.")
if [ ${#fallback[@]} -gt 0 ]; then
  # rows that are then the same training run (CLIPSep-Text*, BertSep*, CLAPSep*) share it
  selection+=(--fallback "${fallback[@]}")
  notes+=(--note "Rows that differ only in a text encoder that is not here share one run per column (the same numbers).")
fi

# every run: folder, method, sources, text encoder kind, test set, teacher data, overrides
runs=$(wsas paper-runs "${selection[@]}" "${root_args[@]}")
train_clip=false
if cut -f4 <<<"$runs" | grep -qx clip_image && [ "$image_spec" = "$PWD/$small_clip" ]; then
  train_clip=true
  notes+=(--note "CLIPSep-Img(*), CoSep* and SOP*: no pretrained CLIP here (--image); their queries came from a small CLIP trained on the rendered solos' drawn frames and class prompts.")
fi

if in_stages 1; then
  stage1_prepare
  # the other datasets' fixed test and validation sets (their own numbers of passes)
  for test in $(cut -f5 <<<"$runs" | sort -u); do
    [ "$test" = - ] && continue
    if [ -f "$data_dir/$test/test_2mix.json" ] && [ "$force" != true ]; then
      say "stage 1: $data_dir/$test/test_2mix.json exists (--force true rebuilds it)"
      continue
    fi
    say "stage 1: $test's fixed test and validation mixtures -> $data_dir/$test/"
    wsas prepare "$conf" --root "${roots[$test]}" --set "data.dataset=$test" \
      --set data.test_passes=null -o "$data_dir/$test" --force
  done
fi

if in_stages 2 && [ "$train_clip" = true ]; then
  if [ -f "$small_clip/config.json" ] && [ "$force" != true ]; then
    say "stage 2: $small_clip exists (--force true retrains it)"
  else
    say "stage 2: a small CLIP on the training solos' frames and class prompts -> $small_clip"
    mkdir -p "$(dirname "$small_clip")"
    wsas train-clip --conf "$conf" --root "$root" -o "$small_clip" --steps "$clip_steps" \
      --force >"$small_clip.log" 2>&1 || { tail -n 20 "$small_clip.log" >&2; exit 1; }
    grep -h "^held-out" "$small_clip.log" || true
  fi
fi
if in_stages 2; then
  # one teacher per training data and mixture size: each cell's teacher learns from the
  # mixtures and captions of what the cell trains on (never clean solos), with the steps
  # scaled by the number of datasets; two at a time on a CPU, the longest first
  teacher_logs=()
  while IFS=$'\t' read -r datasets n teacher overrides; do
    data_sets=()
    suffix=""
    if [ "$teacher" != - ]; then
      suffix=_$teacher
      for kv in $overrides; do
        [[ $kv == data.dataset=* || $kv == data.root=* || $kv == data.clean_data.* ]] &&
          data_sets+=(--set "$kv")
      done
    fi
    out=$(teacher_of "$n" "$suffix")
    teacher_logs+=("${out%.pth}.stage2.log")
    run_jobs "stage 2: small encoder of the $n-source training data (${teacher/#-/music}) -> $out" \
      "${out%.pth}.stage2.log" stage2_teachers "$n" "$suffix" "$((encoder_steps * datasets))" \
      "${data_sets[@]}"
  done < <(awk -F '\t' '!seen[$3 FS $6]++ { o = ""; for (i = 7; i <= NF; i++) o = o " " $i
    print ($6 == "-" ? 1 : split($6, parts, "+")) "\t" $3 "\t" $6 "\t" o }' <<<"$runs" |
    sort -s -t $'\t' -k1,1nr)
  check_jobs
  # what each printed: its held-out retrieval (or that it existed)
  for log in "${teacher_logs[@]}"; do
    grep -h "held-out\|exists" "$log" | sed "s|^|  $(basename "${log%.stage2.log}"): |" || true
  done
fi

# run_one FOLDER METHOD N KIND TEST TEACHER SEED [KEY=VALUE...]: stage 3 (train) then 4
# (score on TEST's fixed set; -: the recipe's)
run_one() {
  local folder=$1 method=$2 n=$3 kind=$4 test=$5 teacher=$6 seed=$7 exp_dir spec extra=() enc
  local data=(--root "$root") sets=$data_dir
  shift 7
  exp_dir=$exp_root/$folder/seed$seed
  enc=$(teacher_of "$n")
  [ "$teacher" != - ] && enc=$(teacher_of "$n" "_$teacher")
  [ "$test" != - ] && sets=$data_dir/$test
  [ -f "$enc" ] && enc=$PWD/$enc  # absolute: conf.yml serves eval from anywhere
  local encoder_set
  case $kind in
    bert) spec=${bert_spec:-$enc} ;;
    clip) spec=${clip_spec:-$enc} ;;
    *) spec=$enc ;;
  esac
  encoder_set=(--set "encoder.name=$spec")
  if [ "$kind" = clip_image ]; then
    # the method names the encoder (with its pooling) from encoder.clip_image; frames are
    # read at the drawn size
    encoder_set=(--set "encoder.clip_image=$image_spec" --set "data.frames.size=$frame_size")
  fi
  for kv in "$@"; do
    extra+=(--set "$kv")
    [[ $kv == data.root=* ]] && data=()  # another dataset's mixtures (a cross-dataset row)
  done
  if in_stages 3; then
    [ -n "$max_steps" ] && extra+=(--max-steps "$max_steps")
    # quick: validate at half and at the end (the config's interval would skip the last steps)
    if [ "$quick" = true ]; then
      extra+=(--set "training.val_check_interval=$((max_steps > 1 ? max_steps / 2 : 1))")
      extra+=(--set "training.batch_size=$quick_batch")
    fi
    [ "$force" = true ] && extra+=(--force --restart)
    # the teacher stays the n-source small encoder (weak rows); the query encoder is spec
    python train.py "$conf" "${data[@]}" --exp-dir "$exp_dir" --method "$method" \
      --gpus "$run_gpus" --val-manifest "$sets/val_2mix.json" "${encoder_set[@]}" \
      --set "data.n_sources=$n" --set "training.seed=$seed" --set "data.seed=$seed" \
      "${extra[@]}" || return 1
  fi
  if in_stages 4; then
    python eval.py "$sets/test_2mix.json" -o "$exp_dir" --model "$exp_dir/best_model.pth" \
      --force || return 1
  fi
}
# each run line with a relative cost first: sources per mixture, x3 for the rows that
# query every phrase (weak, semi, the classifier teachers)
by_cost() {
  awk -F '\t' '{ c = $3; if ($2 ~ /^(weak|semi|timbre)/) c = 3 * c; print c "\t" $0 }'
}
if in_stages 3 || in_stages 4; then
  # the costliest runs first (more sources, weak rows), so the last ones finish together
  while IFS=$'\t' read -r _ folder method n kind test teacher overrides; do
    for seed in $seeds; do
      log=$exp_root/$folder/seed$seed.log
      # shellcheck disable=SC2086  # overrides: KEY=VALUE words
      run_jobs "stages 3-4: $method, $n-source training, seed $seed -> $exp_root/$folder/seed$seed/" \
        "$log" run_one "$folder" "$method" "$n" "$kind" "$test" "$teacher" "$seed" $overrides
    done
  done < <(by_cost <<<"$runs" | sort -s -k1,1nr)
  check_jobs
fi
if in_stages 4; then
  say "stage 4: both tables"
  # the config's budget, read once; the command line and quick mode override it
  read -r steps batch < <(python -c "import yaml; t = yaml.safe_load(open('$conf'))['training']
print(t['max_steps'], t['batch_size'])")
  [ -n "$max_steps" ] && steps=$max_steps
  mode=full
  if [ "$quick" = true ]; then mode=quick; batch=$quick_batch; fi
  wsas paper-tables "$exp_root" -o "$exp_root/results.md" "${selection[@]}" --force \
    --wall-time "$((SECONDS - start))" "${notes[@]}" \
    --note "Budget ($mode mode): $(wc -w <<<"$seeds") seed(s) per cell, $steps training steps of $batch mixtures per run, small encoders of $encoder_steps steps per dataset they learn from." \
    --title "Rendered instruments: the seed's Tables 1 and 2"
fi
say "done in $((SECONDS - start)) s: $PWD/$exp_root/results.md, results_table1.png, results_table2.png"

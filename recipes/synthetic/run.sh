#!/usr/bin/env bash
# The main job: the paper's comparison (Table 1 shape) offline, on a CPU, in one command.
#
# Renders solo recordings of 17 instruments (sampled instruments of a General MIDI
# soundfont played by FluidSynth: melodies, chords, drum patterns) in MUSIC's layout, trains
# the small bimodal encoder on their mixtures and captions only, trains the compared
# separators with the same budget, scores all and the unprocessed mixture on one fixed
# 2-source test set, and prints the table with 95 % intervals and the paired claims
# (exp/results.md, .json), the curves (exp/val_sdr.png) and example separations.
#   bash recipes/synthetic/run.sh               # main job: one seed, 2-source training
#   bash recipes/synthetic/run.sh --full true   # the evidence mode: 3 seeds, 4,000 steps;
#                                                # semi, 5 %-supervised, 3-source rows
#   bash recipes/synthetic/run.sh --max_steps 50 --encoder_steps 50   # a quick look
cd "$(dirname "$0")"

. ../utils/options.sh  # stage, stop_stage, conf, tag, ... (--help)
full=false            # true: the evidence mode: the whole comparison (seeds 0 1 2, every row below, 4000 steps)
methods=auto          # rows trained on 2-source mixtures (auto: mix_and_separate weak supervised; full adds semi supervised_5pct)
methods_3src=auto     # rows trained on 3-source mixtures, scored on the 2-source test (auto: none; full: mix_and_separate weak)
seeds=auto            # training seeds (auto: 0; full: 0 1 2)
encoder=tiny          # tiny (trained in stage 2 on mixtures only), or a CLAP folder / hub id
encoder_steps=auto    # stage 2 steps (auto: 1000, or 600 on a CPU without bf16 kernels)
max_steps=auto        # separator steps (auto: the config's 1000, or 600 on a CPU without
                      # bf16 kernels, where fp32 steps cost twice as much: see the docs;
                      # with --full true, 4000: the evidence mode's converged budget)
per_class=20          # rendered recordings per instrument
render_seed=1         # seed of the recordings (the settings were tuned on seed 0's: see the docs)
gpus=0                # 0: CPU (the job is sized for it); auto: every GPU present, N: the first N (runs packed several per GPU, one GPU each)
n_examples=3          # example separations per row in stage 5
jobs=auto             # runs trained at once, each on cores / jobs threads (auto: 2 on a CPU with 2+ cores, else 1; on GPUs up to 8 per GPU: docs/performance.md)
protocol=ours         # ours | authors: the authors' code's choice for every departure (docs/objective.md)
soundfont=""          # a GM .sf2 to render with (default FluidR3_GM); another one gets its own data/<name>/ and exp/<name>/
set_name=""           # a rendered set of its own: data/rendered_<name>/, data/<name>/, exp/<name>/ (default: the --soundfont's name, else none); e.g. another rate (--conf) or --per_class
variant=""            # a name for the runs of these settings: exp[/<name of soundfont>]/<variant>/, sharing that set's encoders
train_args=""         # more train.py options for every row, e.g. "--set training.bn_stats=per_query"
train_protocol=""     # the protocol of training alone (default: --protocol), scoring as --protocol
ablation=false        # true: the fidelity ablation of the weak row instead (docs/recipes/synthetic.md): 5 variants x seeds (auto: 0 1 2)
sweep=false           # true: the sweep of the supervised row on validation instead (docs/recipes/synthetic.md): 10 settings against the converged base, seeds auto 0, max_steps auto 4000
sweep_rows=auto       # with --sweep: its rows (auto: all of base lr3e3 lr3e4 const step clip2 aug deep wide pc2x rate2x)
test_on=""            # stage 4 scores the runs on another set's test instead: its data folder (e.g. data/timgm6mb), into exp[/<set>][/<variant>]/on_<folder name>/
. ../utils/parse_options.sh
. ../utils/stages.sh
. ../utils/rendered.sh  # stage0_render, stage2_teachers, teacher_of
root=data/rendered
render_args=()
if [ -n "$soundfont" ]; then  # a second rendered set: its own recordings, test sets, runs
  [ -z "$set_name" ] && set_name=$(basename "${soundfont%.*}" | tr '[:upper:]' '[:lower:]')
  render_args=(--soundfont "$soundfont")
fi
if [ -n "$set_name" ]; then
  if [[ ! "$set_name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then
    echo "--set_name $set_name: letters, digits, '_', '.' and '-' only (it names folders)" >&2
    exit 1
  fi
  root=data/rendered_$set_name
  data_dir=data/$set_name
  exp_root=exp/$set_name
fi
# the authors' test composition and scoring (stage 1, 4) have their own manifests
[ "$protocol" = authors ] && data_dir=$data_dir/authors
encoder_root=$exp_root  # the set's small encoders serve every variant
[ -n "$variant" ] && exp_root=$exp_root/$variant
# where stage 4 scores: the runs' own test set into their folders, or (--test_on) another
# set's into on_<name>/, refused where scores exist unless --force true
test_manifest=$data_dir/test_2mix.json
score_root=$exp_root
scoring=(--force)
if [ -n "$test_on" ]; then
  if [ "$ablation" = true ] || [ "$sweep" = true ]; then
    echo "--test_on scores the main job's rows, not those of --ablation or --sweep" >&2
    exit 1
  fi
  test_manifest=$test_on/test_2mix.json
  [ "$protocol" = authors ] && test_manifest=$test_on/authors/test_2mix.json
  if in_stages 4 && [ ! -f "$test_manifest" ]; then
    echo "--test_on $test_on: no $test_manifest (stages 0-1 of that set build it, e.g." \
      "run.sh --soundfont SF2 --stage 0 --stop_stage 1)" >&2
    exit 1
  fi
  score_root=$exp_root/on_$(basename "$test_on")
  scoring=(--classes-of "$data_dir/test_2mix.json")  # only the classes the runs learnt
  [ "$force" = true ] && scoring+=(--force)
fi
start=$SECONDS
if [ "$ablation" = true ] && [ "$sweep" = true ]; then
  echo "--ablation and --sweep: one at a time" >&2
  exit 1
fi
# the options a study (--ablation, --sweep) passes on to each of its runs, and its set's
# stages 0-2 (recordings, test sets, encoders) once, before them
study_common() {
  common=(--conf "$conf" --seeds "$seeds" --max_steps "$max_steps" --force "$force")
  common+=(--encoder_steps "$encoder_steps" --per_class "$per_class" --gpus "$gpus")
  common+=(--render_seed "$render_seed" --jobs "$jobs" --protocol "$protocol")
  [ -n "$soundfont" ] && common+=(--soundfont "$soundfont")
  [ -n "$set_name" ] && common+=(--set_name "$set_name")
  if [ "$stage" -le 2 ]; then
    bash run.sh "${common[@]}" --stage "$stage" --stop_stage "$((stop_stage < 2 ? stop_stage : 2))" ||
      exit 1
  fi
}
if [ "$sweep" = true ]; then
  # What limits the supervised row (the upper bound), one factor at a time against the
  # converged base (the main job's settings at 4,000 steps: the conv variant's supervised
  # runs), on validation only: training (stage 3) and the table of validation SDRi. Each
  # setting is a variant of its own (exp[/<set>]/sw_<name>/); the rate and the recordings
  # per class are sets of their own (stages 0-3: data/rendered_<set>r16k, ...pc40).
  all_rows="base lr3e3 lr3e4 const step clip2 aug deep wide pc2x rate2x"
  [ "$sweep_rows" = auto ] && sweep_rows=$all_rows
  for row in $sweep_rows; do
    if [[ " $all_rows " != *" $row "* ]]; then
      echo "--sweep_rows: no row $row (the rows: $all_rows)" >&2
      exit 1
    fi
  done
  wanted() { [[ " $sweep_rows " == *" $1 "* ]]; }
  [ "$seeds" = auto ] && seeds=0
  [ "$max_steps" = auto ] && max_steps=4000
  study_common
  in_stages 3 || in_stages 4 || exit 0
  own=${set_name:+${set_name}_}
  aug="--set data.augment.pitch_prob=0.5 --set data.augment.room_prob=0.5"
  aug="$aug --set data.augment.stretch_prob=0.3"
  rows=(base=conv:)  # name=variant:train_args
  rows+=("lr 3e-3=sw_lr3e3:--set optim.lr=3e-3" "lr 3e-4=sw_lr3e4:--set optim.lr=3e-4")
  # the schedule: the base's rate held, or cut x0.1 at 3/4 of the budget (the authors' StepLR
  # shape), against the cosine decay to zero
  sched="--set scheduler.name=step --set scheduler.interval=step"
  cut=$((3 * max_steps / 4)) && [ "$cut" -lt 1 ] && cut=1
  rows+=("constant lr=sw_const:$sched --set scheduler.step_size=$max_steps --set scheduler.gamma=1.0")
  rows+=("lr x0.1 at 3/4=sw_step:$sched --set scheduler.step_size=$cut --set scheduler.gamma=0.1")
  rows+=("2 s clips=sw_clip2:--set data.train_segment=2.0" "augmented=sw_aug:$aug")
  rows+=("deeper=sw_deep:--set model.channels=[16,32,64,64,64,64]")
  rows+=("wider=sw_wide:--set model.channels=[32,64,128,128,128]")
  tables=()
  for row in "${rows[@]}"; do
    name=${row%%=*} rest=${row#*=}
    key=${rest%%:*} && key=${key#sw_} && [ "$key" = conv ] && key=base
    wanted "$key" || continue
    if in_stages 3; then
      bash run.sh "${common[@]}" --stage 3 --stop_stage 3 --methods supervised \
        --variant "${rest%%:*}" --train_args "${rest#*:}" || exit 1
    fi
    tables+=("$name=$exp_root/${rest%%:*}/2src/supervised")
  done
  # sets of their own (rendered, split and an encoder each: stages 0-3): twice the
  # recordings per class, and twice the rate (the config's copy with twice the rate and STFT:
  # the same frames, twice the frequency bins)
  more=$((2 * per_class))
  rate_conf=$exp_root/sweep_conf_2x_rate.yml
  mkdir -p "$exp_root"
  rate=$(python - "$conf" "$rate_conf" <<'EOF'
import sys
import yaml
with open(sys.argv[1], encoding="utf-8") as f:
    conf = yaml.safe_load(f)
conf["data"]["sample_rate"] *= 2
conf["model"]["n_fft"] = 2 * conf["model"]["n_fft"] + 2  # twice the bins: n_fft / 2 + 1
conf["model"]["hop_length"] *= 2
with open(sys.argv[2], "w", encoding="utf-8") as f:
    yaml.safe_dump(conf, f, sort_keys=False)
print(conf["data"]["sample_rate"])
EOF
) || exit 1
  fast=${own}r$((rate / 1000))k
  sets=(--methods supervised --stage 0 --stop_stage 3)
  if wanted pc2x; then
    if in_stages 3; then
      bash run.sh "${common[@]}" "${sets[@]}" --set_name "${own}pc$more" --per_class "$more" ||
        exit 1
    fi
    tables+=("$more recordings per class=exp/${own}pc$more/2src/supervised")
  fi
  if wanted rate2x; then
    if in_stages 3; then
      bash run.sh "${common[@]}" "${sets[@]}" --set_name "$fast" --conf "$rate_conf" || exit 1
    fi
    tables+=("$((rate / 1000)) kHz=exp/$fast/2src/supervised")
  fi
  python ../utils/sweep_table.py "${tables[@]}" -o "$exp_root/sweep.md" \
    --curves "$exp_root/sweep_val_sdri.png" \
    --title "Sweep of the supervised row, validation SDRi ($(wc -w <<<"$seeds") seed(s), $(steps_of "${tables[@]}") steps)"
  exit $?
fi
if [ "$ablation" = true ]; then
  # The weak row five ways, each a variant of its own (exp[/<set>]/abl_<name>/), all scored on
  # the same test set (ours): the grouping of earlier versions, distinct sources (today's
  # weak), the authors' L_CNT, per-query BatchNorm on top, and the authors' whole training
  # protocol at this budget and batch.
  [ "$seeds" = auto ] && seeds="0 1 2"
  study_common
  in_stages 3 || in_stages 4 || exit 0
  cnt="--set objective.weak.cnt_negatives=slot --set objective.weak.cnt_text_mask=false"
  cnt="$cnt --set objective.weak.cnt_row_weights=false"
  rows=() claims=()
  for v in consecutive distinct cnt bn authors; do
    case $v in
      consecutive) name=consecutive args=(--train_args "--set data.groups=consecutive") ;;
      distinct) name=distinct args=() ;;
      cnt) name=authors_cnt args=(--train_args "$cnt") ;;
      bn) name=per_query_bn args=(--train_args "$cnt --set training.bn_stats=per_query") ;;
      authors) name=authors args=(--train_protocol authors --train_args "--set training.batch_size=8") ;;
    esac
    bash run.sh "${common[@]}" --stage 3 --stop_stage 4 --methods weak --variant "abl_$v" \
      "${args[@]}" || exit 1
    rows+=("$name=$exp_root/abl_$v/2src/weak")
  done
  claims+=(--claim "distinct - consecutive" --claim "authors_cnt - distinct")
  claims+=(--claim "per_query_bn - authors_cnt" --claim "authors - distinct")
  wsas compare "Mixture=$exp_root/abl_distinct/mixture" "${rows[@]}" "${claims[@]}" \
    -o "$exp_root/ablation.md" --curves "$exp_root/ablation_val_sdr.png" --force \
    --title "Fidelity ablation of the weak row, 2-source test set ($(wc -w <<<"$seeds") seeds, $(steps_of "${rows[@]}") steps)"
  python - "${rows[@]}" <<'EOF'
import sys
from pathlib import Path
from statistics import mean, stdev

from asteroid_wsas.reporting.curves import read_curve

print("Validation SDR (dB) of each run's chosen checkpoint, mean +- std over seeds (the choice):")
for row in sys.argv[1:]:
    name, folder = row.split("=", 1)
    best = [max(read_curve(run)[1]) for run in sorted(Path(folder).glob("seed*")) if run.is_dir()]
    spread = f" +- {stdev(best):.2f}" if len(best) > 1 else ""
    print(f"  {name:14s} {mean(best):6.2f}{spread}  ({', '.join(f'{b:.2f}' for b in best)})")
EOF
  exit 0
fi
if [ "$full" = true ] && [ "$max_steps" = auto ]; then
  # the evidence mode: the budget where the supervised row stops improving on validation
  # (docs/recipes/synthetic.md: "Converged comparison", and the sweep of its setting)
  max_steps=4000
  say "--full: the evidence mode, $max_steps separator steps per run (--max_steps changes it)"
fi
if [ "$max_steps" = auto ] || [ "$encoder_steps" = auto ]; then
  # 2 CPU cores train fp32 at about half the bf16 speed: a smaller budget keeps the main job
  # within 15 minutes there (the table says which budget it ran)
  budget=1000
  if ! python - "$gpus" <<'EOF'; then
import sys, torch
gpu = sys.argv[1] != "0" and torch.cuda.is_available()
sys.exit(0 if gpu or torch.ops.mkldnn._is_mkldnn_bf16_supported() else 1)
EOF
    budget=600
    say "no bf16 kernels on this CPU: fp32 training with $budget steps (--max_steps / --encoder_steps change it)"
  fi
  [ "$max_steps" = auto ] && max_steps=$budget
  [ "$encoder_steps" = auto ] && encoder_steps=$budget
fi
if [ "$methods" = auto ]; then
  methods="mix_and_separate weak supervised"
  [ "$full" = true ] && methods="$methods semi supervised_5pct"
fi
if [ "$methods_3src" = auto ]; then
  methods_3src=""
  [ "$full" = true ] && methods_3src="mix_and_separate weak"
fi
if [ "$seeds" = auto ]; then
  seeds=0
  [ "$full" = true ] && seeds="0 1 2"
fi
counts=2
[ -n "$methods_3src" ] && counts="2 3"

# objective and config overrides of a row
row_args() {
  case $1 in
    supervised_5pct) echo "supervised --set data.supervised_fraction=0.05" ;;  # semi's clean part alone
    semi) echo "semi --set data.clean_fraction=0.05" ;;  # 5 % clean solos + 95 % mixtures
    *) echo "$1" ;;
  esac
}
rows_of() { if [ "$1" = 2 ]; then echo "$methods"; else echo "$methods_3src"; fi; }

in_stages 0 && stage0_render music "$root" 8 "${render_args[@]}"
in_stages 1 && stage1_prepare
. ../utils/jobs.sh  # run_jobs, check_jobs

in_stages 2 && stage2_teachers "$counts"
# one row's seed: stage 3 (train) then stage 4 (score on the 2-source test set)
run_one() {
  local n=$1 method=$2 seed=$3 objective overrides exp_dir extra=()
  read -r objective overrides <<<"$(row_args "$method")"
  exp_dir=$exp_root/${n}src/$method/seed$seed
  if in_stages 3; then
    [ -n "$max_steps" ] && extra+=(--max-steps "$max_steps")
    [ "$force" = true ] && extra+=(--force --restart)
    # shellcheck disable=SC2086  # overrides are words
    # shellcheck disable=SC2206  # --train_args is words
    extra+=(--protocol "${train_protocol:-$protocol}" $train_args)
    python train.py "$conf" --root "$root" --exp-dir "$exp_dir" --objective "$objective" \
      --encoder "$(teacher_of "$n")" --gpus "$run_gpus" --val-manifest "$data_dir/val_2mix.json" \
      --set "data.n_sources=$n" --set "training.seed=$seed" --set "data.seed=$seed" \
      $overrides "${extra[@]}" || return 1
  fi
  if in_stages 4; then
    python eval.py "$test_manifest" -o "$score_root/${n}src/$method/seed$seed" \
      --model "$exp_dir/best_model.pth" --protocol "$protocol" "${scoring[@]}" || return 1
  fi
}
# relative cost of a row's step (measured on 2 CPU cores), to start the longest runs first
cost_of() {
  case "$1:$2" in
    2:semi) echo 40 ;; 3:weak) echo 33 ;; 2:weak) echo 21 ;; 3:*) echo 11 ;; *) echo 10 ;;
  esac
}
if in_stages 3 || in_stages 4; then
  runs=$(for n in $counts; do for method in $(rows_of "$n"); do
    echo "$(cost_of "$n" "$method") $n $method"; done; done | sort -s -k1,1nr)
  while read -r _ n method; do
    for seed in $seeds; do
      log=$exp_root/${n}src/$method/seed$seed.log
      run_jobs "stages 3-4: $method, $n-source training mixtures, seed $seed -> ${log%.log}/" \
        "$log" run_one "$n" "$method" "$seed"
    done
  done <<<"$runs"
  check_jobs
fi
if in_stages 4; then
  say "stage 4: the unprocessed mixture (the table's first row), the table and the claims"
  python eval.py "$test_manifest" -o "$score_root/mixture" --mixture --protocol "$protocol" \
    "${scoring[@]}"
  rows=("Mixture=$score_root/mixture")
  trained=()  # the rows' runs (their scores may be elsewhere: --test_on)
  for method in $methods; do
    rows+=("$method=$score_root/2src/$method") && trained+=("$exp_root/2src/$method")
  done
  for method in $methods_3src; do
    rows+=("${method}_3src=$score_root/3src/$method") && trained+=("$exp_root/3src/$method")
  done
  has() { [[ " $methods " == *" $1 "* ]]; }
  claims=()
  has weak && has supervised && claims+=(--claim "weak / supervised >= 0.9")
  if has weak && has mix_and_separate; then
    claims+=(--claim "sdri: weak / mix_and_separate >= 1.5" --claim "weak - mix_and_separate > 0")
  fi
  if [[ " $methods_3src " == *" weak "* && " $methods_3src " == *" mix_and_separate "* ]]; then
    claims+=(--claim "weak_3src / weak - mix_and_separate_3src / mix_and_separate > 0")
  fi
  has semi && has supervised_5pct && claims+=(--claim "semi - supervised_5pct > 0")
  has semi && has weak && claims+=(--claim "semi - weak")
  title="Rendered instruments, 2-source test set"
  report=(--curves "$exp_root/val_sdr.png" --force)  # the curves: the runs' own validation
  if [ -n "$test_on" ]; then
    title="$title of $test_on (runs of $root)"
    report=()
    [ "$force" = true ] && report=(--force)
  fi
  wsas compare "${rows[@]}" "${claims[@]}" -o "$score_root/results.md" "${report[@]}" \
    --wall-time "$((SECONDS - start))" \
    --title "$title ($(wc -w <<<"$seeds") seed(s) per row, $(steps_of "${trained[@]}") steps)"
fi
if in_stages 5; then
  first_seed=${seeds%% *}
  for method in $methods; do
    exp_dir=$exp_root/2src/$method/seed$first_seed
    say "stage 5: $n_examples example separations of $method -> $exp_dir/examples"
    wsas examples "$data_dir/test_2mix.json" -o "$exp_dir/examples" \
      --model "$exp_dir/best_model.pth" -n "$n_examples" --force
  done
fi
say "done in $((SECONDS - start)) s: $PWD/$score_root/results.md, $exp_root/val_sdr.png, 2src/*/seed*/examples/"

#!/usr/bin/env bash
# AudioCaps recipe: separation trained on captioned natural mixtures only (Table 1, AudioCaps).
#
# Stages: 0 data (yt-dlp + ffmpeg, or what to fetch), 1 fixed test/val sets and the
# captions' phrases (data/train_phrases.json: read and correct them before stage 3), 2 small
# bimodal encoder (only with --encoder tiny), 3 train, 4 evaluate, 5 examples and figures.
#   ./run.sh --audiocaps_root /data/AudioCaps                      # weak, CLAP, all GPUs
#   ./run.sh --audiocaps_root /data/AudioCaps --objective mix_and_separate --tag mas --stage 3
# A killed run resumes where it stopped: rerun the same command (or from --stage 3).
cd "$(dirname "$0")"

. ../utils/options.sh  # stage, stop_stage, conf, tag, objective, encoder, ... (--help)
audiocaps_root=data/AudioCaps # train.csv val.csv test.csv and audio/<youtube_id>.<ext>
objective=weak        # weak | mix_and_separate | mixit (no clean sources here)
. ../utils/parse_options.sh
. ../utils/stages.sh
dataset=audiocaps
root=$audiocaps_root
run_stages

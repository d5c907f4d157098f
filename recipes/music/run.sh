#!/usr/bin/env bash
# MUSIC recipe: text-queried separation of instrument solos (the paper's Table 1, MUSIC).
#
# Stages: 0 data (yt-dlp + ffmpeg, or what to fetch), 1 fixed test/val sets, 2 small
# bimodal encoder (only with --encoder tiny), 3 train, 4 evaluate, 5 examples and figures.
#   ./run.sh --music_root /data/MUSIC                      # weak objective, CLAP, all GPUs
#   ./run.sh --music_root /data/MUSIC --objective supervised --tag sup --stage 3
# A killed run resumes where it stopped: rerun the same command (or from --stage 3).
cd "$(dirname "$0")"

. ../utils/options.sh  # stage, stop_stage, conf, tag, objective, encoder, ... (--help)
music_root=data/MUSIC # MUSIC_solo_videos.json and audio/<instrument>/<youtube_id>.<ext>
. ../utils/parse_options.sh
. ../utils/stages.sh
dataset=music
root=$music_root
run_stages

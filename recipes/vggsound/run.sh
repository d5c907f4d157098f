#!/usr/bin/env bash
# VGGSound recipe: text-queried separation of in-the-wild sounds (Table 1, VGGSound).
#
# Stages: 0 data (yt-dlp + ffmpeg, or what to fetch), 1 fixed test/val sets, 2 small
# bimodal encoder (only with --encoder tiny), 3 train, 4 evaluate, 5 examples and figures.
#   ./run.sh --vggsound_root /data/VGGSound                      # weak objective, CLAP, all GPUs
#   ./run.sh --vggsound_root /data/VGGSound --objective supervised --tag sup --stage 3
# A killed run resumes where it stopped: rerun the same command (or from --stage 3).
cd "$(dirname "$0")"

. ../utils/options.sh  # stage, stop_stage, conf, tag, objective, encoder, ... (--help)
vggsound_root=data/VGGSound # vggsound.csv and audio/<youtube_id>_<start:06d>.<ext>
. ../utils/parse_options.sh
. ../utils/stages.sh
dataset=vggsound
root=$vggsound_root
run_stages

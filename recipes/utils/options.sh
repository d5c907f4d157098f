#!/usr/bin/env bash
# The options every recipe has, with their defaults. A run.sh sources this file, may change
# a default or add its own options below it, then sources parse_options.sh.
stage=0               # first stage to run
stop_stage=5          # last stage to run
conf=local/conf.yml   # the run's config (any key: edit a copy and pass --conf)
tag=""                # experiment name, exp/<tag>; default <objective>_<encoder>
objective=weak        # weak | mix_and_separate | supervised | semi | mixit | pit | mixpit
method=""             # a paper row instead of an objective (asteroid-wsas train --help lists them)
encoder=laion/clap-htsat-unfused # CLAP folder or hub id, or tiny (trained in stage 2)
encoder_steps=3000    # stage 2 steps (tiny encoder only)
max_steps=""          # training budget in steps (default: the config's)
gpus=auto             # GPUs per node: auto, 0 (CPU) or N
num_nodes=1           # nodes for multi-node DDP (see docs/recipes/index.md)
n_examples=8          # example separations written in stage 5
force=false           # true: rebuild outputs that exist

#!/usr/bin/env bash
# The oldest supported torch / torchaudio pair (setup.py's lower bound), in a fresh venv:
# install the pair first, then the package without constraints, check that pip kept the
# pair (an environment's own torch is never replaced), and run the tests of the model,
# the losses, the metrics, the Lightning system, the Separator, streaming and the CLI.
#   bash scripts/check_oldest_torch.sh [VERSION]     # default 2.6.0; about 10 min on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-2.6.0}
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "== torch $version and torchaudio $version first"
pip install -q "torch==$version" "torchaudio==$version"
echo "== the package, without constraints.txt: the pair must stay"
pip install -q -e ".[dev]"
python - "$version" <<'PY'
import sys
import torch, torchaudio
want = sys.argv[1]
got = (torch.__version__.split("+")[0], torchaudio.__version__.split("+")[0])
assert got == (want, want), f"pip replaced the pair: torch {got[0]}, torchaudio {got[1]}"
print("kept torch", torch.__version__, "torchaudio", torchaudio.__version__)
PY
python -m pytest -q -n auto -p no:cacheprovider tests/models tests/losses tests/test_metrics.py \
  tests/engine/test_system.py tests/separation/test_separator.py tests/separation/test_stream.py \
  tests/test_cli.py tests/cli

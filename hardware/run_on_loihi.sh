#!/usr/bin/env bash
# Run the main job on a real Loihi chip, beside the Keras and NengoDL references.
# Use on the Loihi superhost; any extra arguments go to the main job (e.g.
# --n-test 500). Stops before the job if `hardware/check_env.py` finds anything
# missing. The board is chosen by environment variables that NxSDK reads (SLURM,
# PARTITION, BOARD; see hardware/README.md), e.g.
#   SLURM=1 hardware/run_on_loihi.sh --n-test 500
set -euo pipefail
cd "$(dirname "$0")/.."
python hardware/check_env.py
exec python -m nengo_vision.convert --model scnn_mnist \
    --backends keras,nengo-dl-rate,nengo-dl,nengo,loihi-emulator,loihi "$@"

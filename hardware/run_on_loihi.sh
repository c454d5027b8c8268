#!/usr/bin/env bash
# Run the main job on a real Loihi chip, beside the Keras and NengoDL references.
# Use on the Loihi host after `python hardware/check_env.py` says ok; any extra
# arguments go to the main job (e.g. --n-test 500).
set -euo pipefail
cd "$(dirname "$0")/.."
python hardware/check_env.py
exec python -m nengo_vision.convert --model scnn_mnist \
    --backends keras,nengo-dl,loihi-emulator,loihi "$@"

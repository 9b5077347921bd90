#!/usr/bin/env bash
# ci/python-test.sh - the Python package (python/README.md): `pip install .` (builds the C library
# through CMake) into a virtual environment with the test dependencies, then its tests. Run by
# ci/test.sh. Every test must run: a skip (say, a missing torch) fails this script.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${UW_PY_VENV:-build-python/venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$(cd "$venv" && pwd)/bin/python"
# torch from PyPI (the CPU-only wheel index is not reachable here; pip's cache makes reruns fast)
"$py" -m pip install -q --disable-pip-version-check "torch>=2.1" transformers pytest safetensors tqdm
"$py" -m pip install -q --disable-pip-version-check ".[test]"
log=$(mktemp)
status=0
(cd python/tests && "$py" -m pytest -p no:cacheprovider -q -rs .) 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 0 ] && grep -qE "[0-9]+ skipped" "$log"; then
  echo "python tests: some tests were skipped (see above): every test must run in CI" >&2
  status=1
fi
rm -f "$log"
exit "$status"

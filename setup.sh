#!/usr/bin/env bash
# Set up repsense in .venv/ at the repository root: everything it needs comes from PyPI,
# the pose models ship inside the package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup.sh: repsense needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
# Spoken cues (analyze --speak) use espeak-ng from the system's packages.
if ! command -v espeak-ng >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if command -v apt-get >/dev/null 2>&1 && $SUDO true 2>/dev/null; then
        echo "setup.sh: installing espeak-ng (spoken cues)" >&2
        $SUDO apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null 2>&1 || {
            $SUDO apt-get update -qq >/dev/null 2>&1 &&
            $SUDO apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null 2>&1; } ||
            echo "setup.sh: could not install espeak-ng; spoken cues will be unavailable" >&2
    else
        echo "setup.sh: spoken cues need espeak-ng (e.g. sudo apt-get install espeak-ng)" >&2
    fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
echo "repsense is ready: .venv/bin/repsense --help" >&2

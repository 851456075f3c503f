#!/usr/bin/env bash
# Set up repsense in .venv/ at the repository root: Python packages from PyPI, the web page's
# packages from npm (served by the app itself: no CDN), the pose models ship inside the package.
# System packages from apt when it is there: espeak-ng (spoken cues); with --test also what the
# tests start (chromium, mosquitto, postgresql, ffmpeg). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h|--help) echo "usage: bash setup.sh [--test]   (--test: also the system packages the tests use)"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup.sh: repsense needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi

# --- system packages -----------------------------------------------------------------------------
want=()
command -v espeak-ng >/dev/null 2>&1 || want+=(espeak-ng)
if [ "$WITH_TEST" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || want+=(chromium)
    [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || want+=(mosquitto)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
    command -v ffmpeg >/dev/null 2>&1 || want+=(ffmpeg)
fi
if [ "${#want[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if command -v apt-get >/dev/null 2>&1 && $SUDO true 2>/dev/null; then
        echo "setup.sh: installing ${want[*]} (apt)" >&2
        $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1 || {
            $SUDO apt-get update -qq >/dev/null 2>&1 &&
            $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1; } ||
            echo "setup.sh: could not install ${want[*]}; spoken cues (espeak-ng) or some tests will be unavailable" >&2
    else
        echo "setup.sh: please install ${want[*]} (e.g. sudo apt-get install ${want[*]})" >&2
    fi
fi

# --- the web page's packages (npm) --------------------------------------------------------------
if command -v npm >/dev/null 2>&1; then
    (cd repsense/app/web && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
        echo "setup.sh: npm install failed: the page will run the pose model on the server" >&2
else
    echo "setup.sh: npm not found: the page will run the pose model on the server (install Node.js for pose in the browser)" >&2
fi

# --- Python ---------------------------------------------------------------------------------------
# pip and setuptools talk a lot (the editable-install banner, index notes): their output goes to a
# log that is shown only when something fails.
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "setup.sh: installing repsense and its Python packages into .venv/" >&2
extras="test"
[ "$WITH_TEST" = 1 ] && extras="test,cluster"   # the tests run the Ray path on a local instance
if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
       .venv/bin/python -m pip install --quiet -e ".[$extras]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.sh: installing the Python packages failed (pip's output above)" >&2
    exit 1
fi
echo "repsense is ready: .venv/bin/repsense serve (or --help)" >&2

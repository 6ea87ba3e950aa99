#!/usr/bin/env bash
# Makes .venv/ at the repository root from python/requirements-clients.lock: the Python client
# libraries (OpenTelemetry, OpenInference, MLflow, Langfuse, Traceloop, LangChain) that
# test/clients/python-clients.int.test.ts runs against `promptline serve`, and the Python SDK in
# instrumentation-python/ (editable) when that directory exists.
#
# Idempotent: a stamp in .venv/ holds the sha256 of the lock (and of the SDK's pyproject.toml), so
# a second run with nothing changed returns at once. When the lock changes, the venv is brought to
# it: what it pins is installed (--no-deps: the lock is complete) and what it no longer lists is
# removed. `npm run python:env`; `npm test` and `npm run test:int` run it first (pretest).
set -euo pipefail
cd "$(dirname "$0")/.."

LOCK=python/requirements-clients.lock
VENV=.venv
SDK=instrumentation-python
STAMP="$VENV/.promptline-lock.sha256"
PYTHON=${PYTHON:-python3}
say() { echo "python-env: $*"; }

stamp_of() {
  {
    sha256sum "$LOCK"
    if [ -f "$SDK/pyproject.toml" ]; then sha256sum "$SDK/pyproject.toml"; fi
  } | sha256sum | cut -d' ' -f1
}

want=$(stamp_of)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say ".venv is up to date with $LOCK"
  exit 0
fi

# The lock is resolved for CPython 3.11 (the machine's python3).
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then say "warning: $PYTHON is Python $version; $LOCK was resolved for 3.11"; fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON ($version)"
  "$PYTHON" -m venv "$VENV"
fi
rm -f "$STAMP"

pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
count=$(grep -cE '^[A-Za-z0-9]' "$LOCK")
say "installing $count pinned packages from $LOCK (a first run downloads them: a few minutes)"
start=$SECONDS
# Only pip's progress and errors are shown; with pipefail the pipeline fails when pip does.
pip install --no-deps --progress-bar off -r "$LOCK" 2>&1 | { grep --line-buffered -E '^(Collecting|ERROR|error)' | sed -u 's/^/  /' || true; }

# What an earlier lock pinned and this one does not: remove it, so the venv is the lock.
extra=$(comm -23 \
  <(pip freeze --exclude-editable | grep -E '^[A-Za-z0-9]' | sed -E 's/[=@ ].*//' | tr 'A-Z_.' 'a-z--' | sort -u) \
  <(grep -E '^[A-Za-z0-9]' "$LOCK" | sed -E 's/[=@ ;].*//' | tr 'A-Z_.' 'a-z--' | sort -u))
if [ -n "$extra" ]; then
  say "removing packages the lock no longer lists: $(echo $extra)"
  # shellcheck disable=SC2086
  pip uninstall --yes --quiet $extra
fi

if [ -d "$SDK" ] && [ -f "$SDK/pyproject.toml" ]; then
  # With its dependencies: they are in the lock already, unless the SDK has just added one.
  say "installing $SDK (editable)"
  pip install --quiet -e "./$SDK"
fi

pip check >/dev/null || { pip check; say "the installed packages do not fit together"; exit 1; }
echo "$want" >"$STAMP"
say "ready in $((SECONDS - start)) s: $VENV/bin/python"

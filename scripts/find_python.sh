#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 needs < 3.11), or fails.
set -u
candidates=("${PYTHON:-}" python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
for dir in "$HOME"/.pyenv/versions/3.10*/bin /opt/python3.10/bin; do
  [ -x "$dir/python3.10" ] && candidates+=("$dir/python3.10")
done
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; then
    "$c" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "error: Python 3.10 not found (Rasa 3.6 needs Python < 3.11); set PYTHON=/path/to/python3.10" >&2
exit 1

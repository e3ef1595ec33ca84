#!/usr/bin/env bash
# Build the one-folder bundle dist/synesthesia-studio/ (run by `make package`), then check it has no
# torch and report its size. PY picks the interpreter whose environment is frozen (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BUNDLE=dist/synesthesia-studio

if ! command -v objdump >/dev/null; then # PyInstaller reads shared-library dependencies with it
	SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq binutils >/dev/null
fi
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
	--distpath dist --workpath build/pyinstaller packaging/studio.spec
cp packaging/synesthesia-studio.desktop packaging/icon.png packaging/install-desktop.sh "$BUNDLE/"

if [ -n "$(find "$BUNDLE" -type d -name torch)" ]; then
	echo "error: torch ended up in $BUNDLE" >&2
	exit 1
fi
echo "built $BUNDLE in $(($(date +%s) - start)) s, no torch inside"
du -sh "$BUNDLE"
echo "largest parts:"
# awk reads everything (no `head`): an early reader exit would SIGPIPE sort and, with pipefail,
# fail the build after it succeeded
du -s "$BUNDLE"/_internal/* | sort -rn | awk 'NR <= 8 {printf "  %6.1f MB  %s\n", $1 / 1024, $2}'

#!/usr/bin/env bash
# Add Synesthesia Studio to the desktop menu of the current user (no root needed).
# Usage: install-desktop.sh [BUNDLE_DIR]   (default: the folder this script is in when it holds the
# `studio` executable, as in a built bundle; else dist/synesthesia-studio beside the packaging folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -ge 1 ]; then
	bundle="$(cd "$1" && pwd)"
elif [ -x "$here/studio" ]; then
	bundle="$here"
else
	bundle="$(cd "$here/.." && pwd)/dist/synesthesia-studio"
fi
if [ ! -x "$bundle/studio" ]; then
	echo "error: no studio executable in $bundle (build it with 'make package')" >&2
	exit 1
fi
source_dir="$here"
[ -f "$source_dir/synesthesia-studio.desktop" ] || source_dir="$bundle"

data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor/256x256/apps"
mkdir -p "$apps" "$icons"
install -m 644 "$source_dir/icon.png" "$icons/synesthesia-studio.png"
# Exec needs an absolute path: the menu does not run in the bundle folder. Quoted for spaces.
sed "s|^Exec=studio|Exec=\"$bundle/studio\"|" "$source_dir/synesthesia-studio.desktop" \
	>"$apps/synesthesia-studio.desktop"
chmod 644 "$apps/synesthesia-studio.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "installed $apps/synesthesia-studio.desktop (runs $bundle/studio)"

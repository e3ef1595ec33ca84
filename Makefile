# Two entry points for a fresh Debian/Ubuntu machine: `make run` and `make test`.
# Both install what is missing (system libraries as root, a virtualenv, the package).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# Qt's xcb platform, PortAudio/libsndfile for sound, Xvfb for the real-window test.
SYS_PKGS := libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0 libxcb-image0 \
	libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0 libx11-xcb1 libportaudio2 libsndfile1 xvfb xauth

.PHONY: run test system lint bench clean package

system:
	@missing=$$(for p in $(SYS_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.app: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.app
	$(PY) -m pip install -q -e ".[test,train]"
	touch $@

run: system $(VENV)/.app
	$(VENV)/bin/studio

test: system $(VENV)/.dev
	$(PY) -m ruff check studio ui tests
	$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

bench: system $(VENV)/.app
	$(VENV)/bin/studio bench --json bench.json

lint: $(VENV)/.dev
	$(PY) -m ruff check studio ui tests
	$(PY) -m ruff format --check studio ui tests

# One-folder app bundle dist/synesthesia-studio/ (no torch); see packaging/README.md.
package: system $(VENV)/.app
	$(PY) -m pip install -q -e ".[package]"
	PY=$(PY) packaging/build.sh

clean:
	rm -rf $(VENV) build dist *.egg-info

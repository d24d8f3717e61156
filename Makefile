# Set-up and everyday commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Qt's xcb platform plugin and a virtual screen for the window tests and headless runs; a window
# manager (openbox) and xdotool for the tests that drive the real window on that screen;
# chromium: the HTML report is opened in a real browser by tests/test_reports.py.
DEBIAN_PACKAGES := xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 \
	libxkbcommon-x11-0 libxkbcommon0 libegl1 libgl1 libfontconfig1 libdbus-1-3 \
	libglib2.0-0 fonts-dejavu-core openbox xdotool chromium

.PHONY: run test lint format system-deps clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Installs the Debian packages above that are missing (needs root, as on CI).
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run: $(STAMP) system-deps
	$(BIN)/image-refresh gui --demo

lint: $(STAMP)
	$(BIN)/ruff check core gui tests
	$(BIN)/ruff format --check core gui tests
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format core gui tests
	$(BIN)/ruff check --fix core gui tests

test: $(STAMP) system-deps lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# The README's screenshots (docs/screenshot-*.png): the real window on a 1366 x 768 X server,
# taken by the tests that check them (tests/gui/test_real_window.py).
screenshots: $(STAMP) system-deps
	SCREENSHOTS_DIR=docs QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/gui/test_real_window.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache

# ---- The bundled application and its Debian package (packaging/). Root for apt, as for `test`.
# binutils: PyInstaller strips with it, packaging/slim_icu.py links with it; dpkg-dev: dpkg-shlibdeps;
# libpython3.11: the shared library PyInstaller bundles when .venv is made from Debian's Python.
PACKAGE_DEBIAN_PACKAGES := binutils dpkg-dev desktop-file-utils libpython3.11
CLEANROOM_DEBIAN_PACKAGES := debootstrap
PACKAGE_STAMP := $(VENV)/.packaging-installed
BUNDLE := build/bundle/image-refresh
DEB_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' core/__init__.py)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB := dist/image-refresh_$(DEB_VERSION)_$(DEB_ARCH).deb
PACKAGE_SOURCES := pyproject.toml $(shell find core gui resources packaging -type f \
	-not -name '*.pyc' 2>/dev/null)

.PHONY: package package-deps test-package test-cleanroom

# $(call apt-install-missing,PACKAGES): what system-deps does, for another list.
define apt-install-missing
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

$(PACKAGE_STAMP): $(STAMP) packaging/requirements.txt
	$(BIN)/python -m pip install --quiet -r packaging/requirements.txt
	touch $@

# system-deps first: PyInstaller leaves out Qt's xcb plugin when its libraries are missing.
package-deps: system-deps
	$(call apt-install-missing,$(PACKAGE_DEBIAN_PACKAGES))

# dist/image-refresh_<version>_<arch>.deb from a one-folder bundle (packaging/image-refresh.spec);
# rebuilt when a source, the .venv or packaging/ changes.
package: $(DEB)

$(DEB): $(PACKAGE_STAMP) $(PACKAGE_SOURCES) | package-deps
	rm -rf build/bundle build/icons build/deb dist/image-refresh_*.deb
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath build/bundle \
		--workpath build/pyinstaller packaging/image-refresh.spec
	$(BIN)/python packaging/slim_icu.py $(BUNDLE)
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/render_icons.py build/icons >/dev/null
	$(BIN)/python packaging/build_deb.py --bundle $(BUNDLE) --icons build/icons --output dist

# Installs the .deb on this machine, runs it headless and under Xvfb, purges it.
test-package: $(DEB)
	$(BIN)/python packaging/test_package.py --deb $(DEB)

# The same in a minimal Debian made by debootstrap (cached in build/cleanroom).
test-cleanroom: $(DEB)
	$(call apt-install-missing,$(CLEANROOM_DEBIAN_PACKAGES))
	bash packaging/test-cleanroom.sh $(DEB)

# ---- Benchmarks (not part of `test`): one table in tests/benchmarks/RESULTS.md, about 15 min.
# `make bench BENCH_ARGS=--quick` for fewer rounds. Root for apt and for the latency probe.
# jpeginfo: the health scan is measured against `jpeginfo -c` (tests/benchmarks/health_scan.py).
BENCH_DEBIAN_PACKAGES := nginx-light libvips-tools curl time iproute2 jpeginfo
BENCH_ARGS ?=

.PHONY: bench

bench: $(STAMP) system-deps
	$(call apt-install-missing,$(BENCH_DEBIAN_PACKAGES))
	$(BIN)/python -m tests.benchmarks.run_all $(BENCH_ARGS)

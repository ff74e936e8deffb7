# dltk — two commands set everything up:
#   make lab    create the environment if needed and open the lessons in JupyterLab
#   make test   create the environment if needed and run every test
#
# TORCH pins the PyTorch build. The default is the CPU build; on another
# machine use e.g. `make test TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"`.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PORT   ?= 8888
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
STAMP   = $(VENV)/.dltk-installed
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: lab test install bench lesson-report lint format strip clean chromium pictures

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[lessons,data,dev,classroom]"
	@# JupyterHub's proxy for the classroom load test (npm, into the venv)
	mkdir -p $(VENV)/chp && npm install --silent --no-audit --no-fund --prefix $(VENV)/chp configurable-http-proxy@5
	@# nbgrader's JupyterLab/server extensions stay off in this environment (the tests call nbgrader directly)
	-$(PY) -m jupyter server extension disable --sys-prefix nbgrader.server_extensions.formgrader \
		nbgrader.server_extensions.validate_assignment nbgrader.server_extensions.assignment_list \
		nbgrader.server_extensions.course_list > /dev/null 2>&1
	-$(PY) -m jupyter labextension disable --level=sys_prefix @jupyter/nbgrader > /dev/null 2>&1
	@# prebuild the compiled LSTM recording loop (optional: dltk falls back silently without it)
	-$(PY) -c "from dltk.layers._lstm_kernel import op; op()"
	touch $(STAMP)

install: $(STAMP)

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Installing Chromium for the browser tests (apt)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

# --allow-root only when run as root (containers, classroom VMs); JupyterLab refuses root otherwise
ROOT_FLAG = $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: install
	cd lessons && ../$(PY) -m jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser $(ROOT_FLAG)

test: install chromium
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks

lesson-report: install
	$(PY) -m benchmarks.lesson_report

# the README's pictures (docs/img/*.png), drawn by dltk; tests/test_readme_pictures.py checks they are current
pictures: install
	$(PY) -m tools.pictures

lint: install
	$(PY) -m ruff check dltk tests benchmarks
	$(PY) -m ruff format --check dltk tests benchmarks
	$(VENV)/bin/lint-imports --no-cache   # import direction, contracts in pyproject.toml

format: install
	$(PY) -m ruff format dltk tests benchmarks
	$(PY) -m ruff check --fix dltk tests benchmarks

strip: install
	git ls-files -z 'lessons/*.ipynb' | xargs -0 -r $(VENV)/bin/nbstripout --keep-id

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts

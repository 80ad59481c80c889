# facecluster: `make run` = set-up + default pipeline; `make test` = set-up + test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: setup data slurm browser run report test lint dryrun clean-results

setup: $(STAMP)

# torch first, pinned to the CPU build (an unpinned torch pulls a multi-GB CUDA build),
# then the pinned rest, then this package in editable mode.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The real labelled embedding set shipped beside the repository (../shared/data/npmscope): linked
# to resources/npmscope when it exists; without it `make run` skips that dataset and its tests skip.
NPMSCOPE ?= ../shared/data/npmscope
data:
	@if [ -e resources/npmscope ]; then :; \
	elif [ -d "$(NPMSCOPE)" ]; then ln -s "$$(cd "$(NPMSCOPE)" && pwd)" resources/npmscope && echo "linked resources/npmscope -> $(NPMSCOPE)"; \
	else echo "$(NPMSCOPE) not found: the npmscope dataset is skipped"; fi

run: $(STAMP) data
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

# The Snakemake HTML report of the default run (after `make run`): report.html, self-contained.
report: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --report report.html

# Debian's SLURM + munge for the single-node SLURM integration test (tests/test_slurm.py). Best
# effort: without root or without the Debian mirror the test is skipped and says why.
slurm:
	@if command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing slurmctld slurmd slurm-client munge (apt-get)"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null 2>&1)) || \
		echo "could not install SLURM: the SLURM integration test will be skipped"; \
	else echo "no root/apt-get: the SLURM integration test will be skipped"; fi

# Debian's Chromium for the headless-browser test of the report (tests/test_report_browser.py).
# Best effort: without root or without the Debian mirror the test is skipped and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get)"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) || \
		echo "could not install chromium: the report's headless-browser test will be skipped"; \
	else echo "no root/apt-get: the report's headless-browser test will be skipped"; fi

test: $(STAMP) data slurm browser
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/snakemake --lint

dryrun: $(STAMP)
	$(BIN)/snakemake -n --profile profiles/default

clean-results:
	rm -rf results/* logs .snakemake

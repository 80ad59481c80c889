# facecluster: `make run` = set-up + default pipeline; `make test` = set-up + test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: run-all setup data slurm browser run report test lint dryrun clean-results

setup: $(STAMP)

# GPU=1 (on a CUDA machine): the CUDA build of torch and faiss-gpu instead of faiss-cpu. PyPI's
# torch==2.13.0 wheel for Linux x86_64 *is* the CUDA build (it pulls the nvidia-* runtime wheels,
# several GB); the CPU build is what pip finds where a local wheel of it is offered first (this
# project's CI machines). `make setup GPU=1` on a CPU-only machine installs and then says that no
# GPU is visible. The choice is remembered in the stamp: later `make run` / `make test` keep it
# until another GPU=0/1 is given. A fresh clone (CI) is GPU=0: `make test` never needs a GPU.
GPU ?= $(shell cat $(STAMP) 2>/dev/null || echo 0)
ifeq ($(GPU),1)
FAISS := faiss-gpu==1.15.1
else
FAISS := faiss-cpu==1.15.1
endif

# torch first, pinned (an unpinned torch pulls a multi-GB CUDA build where none was wanted),
# then the pinned rest with the chosen faiss, then this package in editable mode. The stamp
# records GPU, so switching re-installs.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	grep -v '^faiss-' requirements.txt > $(VENV)/requirements.resolved.txt
	echo '$(FAISS)' >> $(VENV)/requirements.resolved.txt
	$(BIN)/python -m pip uninstall --quiet -y faiss-cpu faiss-gpu 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.resolved.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -c "import torch, faiss; g = getattr(faiss, 'get_num_gpus', lambda: 0)(); print(f'torch {torch.__version__} (CUDA {torch.version.cuda}, GPU visible: {torch.cuda.is_available()}), faiss {faiss.__version__} (GPUs: {g})'); import facecluster.graph.knn as k; print('knn backend auto ->', k.resolve_backend('auto'))"
	echo $(GPU) > $(STAMP)

# Re-install when GPU differs from the last set-up.
ifneq ($(shell cat $(STAMP) 2>/dev/null || echo none),$(GPU))
.PHONY: $(STAMP)
endif

# The real labelled embedding set shipped beside the repository (../shared/data/npmscope): linked
# to resources/npmscope when it exists; without it `make run` skips that dataset and its tests skip.
NPMSCOPE ?= ../shared/data/npmscope
data:
	@if [ -e resources/npmscope ]; then :; \
	elif [ -d "$(NPMSCOPE)" ]; then ln -s "$$(cd "$(NPMSCOPE)" && pwd)" resources/npmscope && echo "linked resources/npmscope -> $(NPMSCOPE)"; \
	else echo "$(NPMSCOPE) not found: the npmscope dataset is skipped"; fi

run: $(STAMP) data
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

# The default run plus npmscope (config/run_all.yaml), when ../shared/data/npmscope exists.
run-all: $(STAMP) data
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --configfile config/config.yaml config/run_all.yaml

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

# Two pytest workers (pytest-xdist): the suite's jobs use about one core on average (user+sys 35 of
# 31.5 wall minutes, one worker), so two keep both cores of a CI machine busy; tests of one
# xdist_group (a shared reference run) stay on one worker. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: $(STAMP) data slurm browser
	$(BIN)/python -m pytest -q --durations=15 -n $(TEST_WORKERS) --dist loadgroup tests

lint: $(STAMP)
	$(BIN)/snakemake --lint

dryrun: $(STAMP)
	$(BIN)/snakemake -n --profile profiles/default

clean-results:
	rm -rf results/* logs .snakemake

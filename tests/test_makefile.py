"""The Makefile's set-up: CPU by default, CUDA torch + faiss-gpu with GPU=1 (checked as a dry run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _setup_commands(*args: str) -> str:
    return subprocess.run(["make", "-n", "-B", "setup", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


def test_gpu_setup_installs_faiss_gpu_instead_of_faiss_cpu():
    gpu = _setup_commands("GPU=1")
    assert "echo 'faiss-gpu==1.15.1'" in gpu and "faiss-cpu==" not in gpu
    assert "pip install --quiet torch==2.13.0" in gpu  # PyPI's Linux wheel of this pin is the CUDA build
    assert "grep -v '^faiss-' requirements.txt" in gpu and "echo 1 >" in gpu


def test_default_setup_is_cpu_only():
    cpu = _setup_commands("GPU=0")
    assert "echo 'faiss-cpu==1.15.1'" in cpu and "faiss-gpu==" not in cpu.replace("uninstall --quiet -y faiss-cpu faiss-gpu", "")
    # requirements.txt pins the CPU faiss that CI gets on a fresh clone
    assert "faiss-cpu==1.15.1" in (REPO / "requirements.txt").read_text()

import json
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AC_EVAL_SHARED_DATA", REPO.parent / "shared" / "data"))
N_AUDIO = 60  # items per benchmark that get synthetic audio (runs use --limit 50)


# CI sets AC_EVAL_REQUIRE_SHARED=1 (.ci/run): there a missing shared folder fails the tests that need it instead of
# skipping them, so the checks against the real metadata can never silently stop running.
REQUIRE_SHARED = os.environ.get("AC_EVAL_REQUIRE_SHARED") == "1"


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"real benchmark metadata not found at {path} (set AC_EVAL_SHARED_DATA to ../shared/data)"
        if REQUIRE_SHARED:
            pytest.fail(message + "; AC_EVAL_REQUIRE_SHARED=1 makes this a failure", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    return build_qwen2_audio(tmp_path_factory.mktemp("tiny") / "qwen2-audio", seed=0)


@pytest.fixture(scope="session")
def bench_root(tmp_path_factory) -> Path:
    """ROOT/mmau and ROOT/mmar laid out as published: real metadata, synthetic audio for the first items."""
    from ac_eval.evaluation.benchmarks import load_benchmark
    from ac_eval.testing.synthetic_audio import write_synthetic_audio

    root = tmp_path_factory.mktemp("bench")
    (root / "mmau").mkdir()
    (root / "mmar").mkdir()
    shutil.copy(shared_file("mmau", "mmau-test-mini.json"), root / "mmau" / "mmau-test-mini.json")
    shutil.copy(shared_file("mmar", "MMAR-meta.jsonl"), root / "mmar" / "MMAR-meta.jsonl")
    for name, path, split in [
        ("mmau", root / "mmau" / "mmau-test-mini.json", "test-mini"),
        ("mmar", root / "mmar" / "MMAR-meta.jsonl", "test"),
    ]:
        write_synthetic_audio(load_benchmark(name, path, split).records[:N_AUDIO], seconds=1.0)
    return root


@pytest.fixture(scope="session")
def backend(tiny_ckpt):
    from ac_eval.models import load_backend

    return load_backend(str(tiny_ckpt))


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path

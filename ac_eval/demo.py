"""`ac-eval demo`: the offline default. A tiny Qwen2-Audio checkpoint built here, synthetic audio written at the
paths the real MMAU test-mini metadata names (shipped in the package, Apache-2.0), then the normal run with
the real audio and with silence. Random weights barely listen: this shows the pipeline, not a finding."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from rich.console import Console


def run_demo(output: Path, limit: int = 100) -> dict:
    """Evaluate `limit` real MMAU test-mini questions (an even spread over the file) in both modes."""
    from ac_eval.benchmarks import load_benchmark
    from ac_eval.run import RunConfig, run
    from ac_eval.synth import write_synthetic_audio
    from ac_eval.tiny import build_qwen2_audio

    console = Console()
    output.mkdir(parents=True, exist_ok=True)
    checkpoint = output / "tiny-qwen2-audio"
    if not (checkpoint / "config.json").exists():
        build_qwen2_audio(checkpoint, seed=0)
        console.print(f"built tiny Qwen2-Audio checkpoint: {checkpoint}")
    metadata = output / "data" / "mmau" / "mmau-test-mini.json"
    metadata.parent.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("ac_eval") / "data" / "mmau-test-mini.json") as src:
        rows = json.loads(Path(src).read_text())
    # The file is sorted by task; every k-th record keeps sound, music and speech all in the sample.
    step = max(1, len(rows) // limit)
    metadata.write_text(json.dumps(rows[::step][:limit], indent=1))
    records = load_benchmark("mmau", metadata, "test-mini").records
    written = write_synthetic_audio(records)
    console.print(f"synthetic audio: {written} clips written under {metadata.parent}; {len(records)} real questions")
    reports = {}
    for mode in ("generate", "choice"):
        console.rule(f"mode: {mode}")
        if mode == "generate":
            console.print("The paper's protocol: generate, extract <answer>, official match. Random weights write "
                          "gibberish, so expect unparseable outputs here (counted, never guessed).", style="dim")
        else:
            console.print("Choice mode: every option ranked by log-likelihood after the shared prompt + audio.", style="dim")
        run_dir = output / f"run-{mode}"
        reports[mode] = run(
            RunConfig(
                tasks=["mmau_test_mini"],
                model_args=f"pretrained={checkpoint}",
                data_dir=str(output / "data"),
                mode=mode,
                output_path=str(run_dir),
            ),
            console,
        )
        console.print(
            f"files: {run_dir / 'results.json'} (report + provenance), {run_dir / 'report.md'}, "
            f"{run_dir / 'samples.jsonl'} (one line per item and condition), {run_dir / 'lm_eval'} (lm-eval's logs)"
        )
    return reports

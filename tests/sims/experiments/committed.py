"""The check that an experiment's composed config is stored as it was before the nesting: the
default config's record is the committed full-scale run's ``config.json`` byte for byte (and its
hash the folder's name, results/<experiment>-44136fa355), and the quick preset hashes to the
folder name the quick run had before, its first cells the file names they had (so ``gfs report``
finds the committed folders and a rerun resumes into the same folders and cell files)."""

from __future__ import annotations

import json
from pathlib import Path

from sims.experiments import EXPERIMENTS
from sims.foundations.composed import flat_record
from sims.results.folder import cell_key, config_hash

ROOT = Path(__file__).resolve().parents[3]
#: the hash every default config has (no key away from its default): the committed folders' names
DEFAULT_HASH = "44136fa355"
#: the quick presets' folder names before the configs were nested (results/quick/<experiment>-<hash>)
QUICK_HASHES = {"exponential": "3c76ba1d31", "rates": "63372c9a25", "pretraining": "c7ed6b3dec",
                "finetune": "e03a59a6c4", "tradeoff": "c345b9d844", "submodularity": "592359185c"}
#: the file names (keys) of the quick presets' first two cells before the cells were typed
QUICK_CELL_KEYS = {
    "exponential": ["kind-contraction_seed-0_221be28d", "kind-phase_m-4_seed-0_b3092f82"],
    "rates": ["kind-select_problem-teacher-interior_seed-0_9a9ec38d",
              "kind-direct_n-10_problem-teacher-interior_seed-0_ffe9b757"],
    "pretraining": ["m-100_seed-0_setup-ntk-teacher_bdb1e1e2", "m-300_seed-0_setup-ntk-teacher_1b7577de"],
    "finetune": ["problem-teacher_seed-0_6ed979f4", "problem-mnist5k_seed-0_1520c0f4"],
    "tradeoff": ["problem-teacher_seed-0_6ed979f4", "problem-mnist5k_seed-0_1520c0f4"],
    "submodularity": ["family-teacher_seed-0_87ab8876", "family-teacher_seed-1_2f9bce72"],
}


def check_stored_as_before(name: str) -> None:
    experiment = EXPERIMENTS[name]
    default = experiment.config_class()
    folder = ROOT / "results" / f"{name}-{DEFAULT_HASH}"
    text = json.dumps({"experiment": name, "config": flat_record(default)}, indent=2, sort_keys=True, default=list)
    assert (folder / "config.json").read_text() == text + "\n"
    assert config_hash(default) == DEFAULT_HASH
    assert config_hash(experiment.quick()) == QUICK_HASHES[name]
    assert [cell_key(cell) for cell in experiment.cells(experiment.quick())[:2]] == QUICK_CELL_KEYS[name]

"""`mtmri_lib.machine`: what every benchmark prints about the machine it ran on."""

import json

from mtmri_lib import machine


def test_the_description_is_json_ready_and_names_the_cpu():
    described = machine.describe_machine()
    json.dumps(described)
    assert described["cpu_model"]
    assert set(described["vector_extensions"]) == set(machine.VECTOR_EXTENSIONS)
    assert 1 <= described["usable_cores"] <= (described["cpu_count"] or 1)
    assert described["blas"] and all(b["num_threads"] >= 1 for b in described["blas"])
    line = machine.machine_line(described)
    assert line.startswith("machine: ") and described["cpu_model"] in line and "oneDNN" in line


def test_vector_extensions_are_read_from_the_cpu_flags(monkeypatch):
    lines = ["model name\t: Test CPU", "flags\t\t: fpu sse2 avx2 fma avx512f"]
    monkeypatch.setattr(machine, "_cpuinfo", lambda: lines)
    assert machine.cpu_model() == "Test CPU"
    assert machine.vector_extensions() == {
        "AVX2": True,
        "FMA": True,
        "AVX-512": True,
        "AVX512-BF16": False,
        "AMX": False,
    }


def test_the_onednn_setting_follows_the_environment(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert machine.onednn_state().startswith("on")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert machine.onednn_state().startswith("off")

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


def test_the_peak_follows_the_extensions_cores_and_clock(monkeypatch):
    monkeypatch.setattr(machine, "clock_ghz", lambda: (2.5, "test"))
    flags = {"AVX2": True, "FMA": True, "AVX-512": False, "AVX512-BF16": False, "AMX": False}
    monkeypatch.setattr(machine, "vector_extensions", lambda: dict(flags))
    # Two AVX2 cores with two FMA units at 2.5 GHz: 2 x 2.5 x 2 x 8 x 2 = 160 GFLOP/s.
    assert machine.peak_gflops(2)["gflops"] == 160.0
    assert machine.peak_gflops(2, dtype="float64")["gflops"] == 80.0
    assert machine.peak_gflops(2, fma_units=1)["gflops"] == 80.0
    flags["AVX-512"] = True
    assert machine.peak_gflops(2)["gflops"] == 320.0
    assert machine.peak_gflops(4)["isa"] == "AVX-512"
    monkeypatch.setattr(machine, "clock_ghz", lambda: (None, "unknown"))
    assert machine.peak_gflops(2)["gflops"] is None


def test_the_clock_comes_from_the_model_name_when_the_kernel_has_none(monkeypatch):
    lines = ["model name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", "cpu MHz\t\t: 1200.0"]
    monkeypatch.setattr(machine, "_cpuinfo", lambda: lines)
    real_read = machine.Path.read_text

    def no_cpufreq(self, *args, **kwargs):
        if "cpufreq" in str(self):
            raise OSError("no cpufreq")
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(machine.Path, "read_text", no_cpufreq)
    assert machine.clock_ghz() == (2.4, "model name")
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ["model name\t: Test", "cpu MHz\t\t: 2300.0"])
    assert machine.clock_ghz() == (2.3, "cpu MHz")


def test_bad_peak_arguments_are_refused():
    import pytest

    for kwargs in ({"fma_units": 0}, {"fma_units": 1.5}, {"dtype": "float16"}):
        with pytest.raises(ValueError):
            machine.peak_gflops(2, **kwargs)
    with pytest.raises(ValueError, match="cores"):
        machine.peak_gflops(0)

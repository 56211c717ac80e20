"""GPU offload: what the build can do, and the warning when settings ask for more."""

from lsp_server.config import decode_settings
from lsp_server.engine.devices import devices, gpu_warning
from lsp_server.engine.model import gpu_offload_supported


def test_warning_only_when_gpu_layers_are_asked_of_a_cpu_build():
    assert gpu_warning(None, offload_supported=False) is None  # default: all layers *if* there is a GPU
    assert gpu_warning(0, offload_supported=False) is None  # CPU asked for explicitly
    assert gpu_warning(-1, offload_supported=True) is None
    assert gpu_warning(20, offload_supported=True) is None
    assert "all layers" in gpu_warning(-1, offload_supported=False)
    message = gpu_warning(20, offload_supported=False)
    assert "20 layers" in message and "GGML_CUDA" in message


def test_gpu_layers_setting_defaults_to_auto():
    assert decode_settings({})[0].gpu_layers is None
    assert decode_settings({"gpuLayers": 0})[0].gpu_layers == 0
    settings, errors = decode_settings({"gpuLayers": "all"})
    assert settings.gpu_layers is None and "'gpuLayers'" in errors[0]


def test_devices_match_the_build():
    found = devices()
    assert any(d.kind == "cpu" and d.total_bytes > 0 for d in found)  # ggml's registry was read
    if not gpu_offload_supported():  # a CPU-only build cannot list a GPU
        assert not any(d.kind in ("gpu", "igpu") for d in found)

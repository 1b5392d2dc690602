"""Dependencies point one way: the app needs no torch (only onnxruntime, OpenCV, numpy, PyQt5,
PyAV), its core needs no Qt, and model/ never imports app/."""
import subprocess
import sys

from conftest import ROOT


def modules_after(code):
    r = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_the_app_needs_no_torch_and_its_core_no_qt():
    loaded = modules_after("import app.cli, app.video_cli, app.live_session, app.api, app.effects")
    assert "torch" not in loaded and "PyQt5" not in loaded


def test_model_never_imports_the_app():
    loaded = modules_after("import model.evaluate, model.train, model.cache, model.pseudo_label, export.export_onnx")
    assert not {m for m in loaded if m == "app" or m.startswith("app.")}


def test_the_graph_contract_is_one_module_everyone_reads():
    from contracts import graph as G
    import app.engine
    import export.export_onnx
    import model.evaluate
    for module in (app.engine, export.export_onnx, model.evaluate):
        assert module.G is G

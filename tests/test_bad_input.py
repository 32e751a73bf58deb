"""Bad input ends in one line naming the thing and the fix: a plugin that raises while it is
imported, a frame too large to allocate and a malformed socket address (both refused before torch
loads), a checkpoint the safe loader refuses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from semlink.cli import main
from semlink.registry import PluginError, Registry

TINY: dict[str, Any] = {
    "name": "bad",
    "seed": 3,
    "data": {"source": "synthetic", "split": "val", "frames": 1, "size": [32, 64]},
    "codecs": [{"name": "jpeg", "quality": 50}],
    "channel": {"model": "ideal"},
    "metrics": ["psnr"],
    "transport": "inproc",
    "cache": False,
}


class Smuggled:
    """An object torch's safe loader refuses to build."""


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("x = 1 / 0\n", "raised ZeroDivisionError: division by zero"),
        ("raise RuntimeError('no licence server\\nsecond line')\n", "raised RuntimeError: no licence server"),
        ("def broken(:\n", "raised SyntaxError"),
    ],
)
def test_a_plugin_that_raises_at_import_is_one_line_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    says: str,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("SEMLINK_PLUGIN_PATH", "")
    module = f"raising_plugin_{abs(hash(request.node.name)) % 10**8}"
    (tmp_path / f"{module}.py").write_text(body)
    scenario = tmp_path / "plugin.yaml"
    scenario.write_text(yaml.safe_dump({**TINY, "codecs": [{"name": f"{module}:Codec"}]}))
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--no-report"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"cannot import codec '{module}:Codec': importing {module} {says}" in error
    assert f"{tmp_path / (module + '.py')}, line" in error and "fix that module" in error


def test_the_registry_turns_any_import_failure_into_a_plugin_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMLINK_PLUGIN_PATH", str(tmp_path))
    (tmp_path / "exit_plugin_mod.py").write_text("import os\nos.environ['X'] = 1\n")  # TypeError at import
    with pytest.raises(PluginError, match=r"importing exit_plugin_mod raised TypeError: .*line 2\); fix that module"):
        Registry("codec").get("exit_plugin_mod:Thing")


IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    from semlink.cli import main
    code = main(sys.argv[1:])
    print("torch loaded" if "torch" in sys.modules else "torch not loaded")
    sys.exit(code)
    """
)


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("data.size=[100000,100000]", "data.size [100000, 100000] is too large a frame (10,000,000,000 pixels)"),
        ("data.size=[[64,64],[20000,64]]", "data.size [20000, 64] is too large a frame"),
        ("network.receiver_bind=tcp://bad-address", "network.receiver_bind 'tcp://bad-address' is not an address"),
        ("network.channel_bind=tcp://*:70000", "network.channel_bind 'tcp://*:70000' is not an address"),
        ("network.channel_bind=udp://127.0.0.1:5601", "network.channel_bind 'udp://127.0.0.1:5601' is not an address"),
        ("network.receiver_connect=tcp://*:5602", "network.receiver_connect 'tcp://*:5602' is not an address"),
    ],
)
def test_frames_and_addresses_are_refused_before_torch_loads(tmp_path: Path, override: str, says: str) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(TINY))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            IN_A_FRESH_PROCESS,
            "run",
            str(scenario),
            "--out",
            str(tmp_path / "o"),
            "--set",
            override,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout.strip() == "torch not loaded"
    error = done.stderr.strip()
    assert len(error.splitlines()) == 1 and says in error
    assert "give at most" in error or "write tcp://HOST:PORT" in error


@pytest.mark.parametrize(
    "address",
    [
        "tcp://127.0.0.1:5601",
        "tcp://*:5601",
        "tcp://0.0.0.0:1",
        "tcp://[::1]:65535",
        "tcp://rx-host:7002",
        "ipc:///tmp/x",
    ],
)
def test_good_addresses_pass(address: str) -> None:
    from semlink.scenario.precheck import valid_address

    assert valid_address(address, bind=True)


def test_a_checkpoint_the_safe_loader_refuses_is_one_line_naming_the_file(tmp_path: Path) -> None:
    from semlink.codecs.semantic.checkpoint import CodecCheckpointError, load_codec
    from semlink.data.labelset import CITYSCAPES
    from semlink.vision.checkpoint import CheckpointError
    from semlink.vision.segmenter import segmenter_for

    smuggling = tmp_path / "smuggling.pt"
    torch.save({"format": "semlink-segmenter-1", "extra": Smuggled()}, smuggling)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all" * 4)
    for path in (smuggling, junk):
        with pytest.raises(CheckpointError) as segmenter:
            segmenter_for(CITYSCAPES, str(path), "cpu")
        with pytest.raises(CodecCheckpointError) as codec:
            load_codec(path)
        for error, what in ((segmenter.value, "segmenter"), (codec.value, "semantic codec")):
            text = str(error)
            assert len(text.splitlines()) == 1 and text.startswith(f"{what} checkpoint {path} cannot be read (")
            assert "give a checkpoint of `semlink train" in text and "\x1b" not in text
    with pytest.raises(CheckpointError, match=r"holds a .*Smuggled object, which torch's safe loader does not build"):
        segmenter_for(CITYSCAPES, str(smuggling), "cpu")

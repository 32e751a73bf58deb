"""The command line: help everywhere, one-line errors, eval and data commands end to end."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from semlink.cli import main

SUBCOMMANDS = [
    ["run"],
    ["eval"],
    ["train"],
    ["train", "segmenter"],
    ["data"],
    ["data", "synth"],
    ["data", "show"],
    ["channel"],
    ["channel", "curve"],
    ["channel", "tables"],
]


def semlink(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "semlink.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("words", SUBCOMMANDS)
def test_help_on_every_subcommand(words: list[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*words, "--help"])
    assert stop.value.code == 0


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["fly"],
        ["eval", "--codec", "identity", "--target-bpp", "x", "--out", "o"],
        ["data", "synth", "--size", "big"],
        ["channel", "curve", "--snr", "5:1:1", "--out", "o"],
        ["channel", "curve", "--coding", "polar", "--out", "o"],
        ["channel", "tables"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str]) -> None:
    result = semlink(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "error:" in result.stderr


def test_unknown_codec_is_one_line_exit_1(tmp_path: Path) -> None:
    result = semlink("eval", "--codec", "bpg9", "--quality", "1", "--out", str(tmp_path))
    assert result.returncode == 1
    assert "unknown codec 'bpg9'; choose one of: avif, controlnet, gan, hevc, identity" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_eval_writes_results_with_per_class_iou(tmp_path: Path) -> None:
    code = main(
        [
            "eval",
            "--frames",
            "3",
            "--codec",
            "resize:factor=2,8",
            "--size",
            "128x256",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [float(r["factor"]) for r in rows] == [2.0, 8.0]
    for column in ("codec", "factor", "frames", "bpp", "miou", "psnr", "ms_ssim", "iou_road", "iou_bicycle"):
        assert column in rows[0]
    assert float(rows[0]["bpp"]) == pytest.approx(24 / 4)
    assert float(rows[0]["miou"]) > float(rows[1]["miou"]) - 0.05


def test_data_synth_then_show_through_the_cityscapes_loader(tmp_path: Path) -> None:
    assert main(["data", "synth", "--out", str(tmp_path / "cs"), "--split", "val", "--n", "2", "--size", "64x128"]) == 0
    assert len(list((tmp_path / "cs" / "gtFine" / "val" / "synthetic").glob("*_gtFine_labelIds.png"))) == 2
    sheet = tmp_path / "sheet.png"
    args = ["data", "show", "cityscapes", "--root", str(tmp_path / "cs"), "--size", "64x128", "--n", "2"]
    assert main([*args, "--out", str(sheet)]) == 0
    assert sheet.stat().st_size > 0


def test_missing_data_root_is_one_line(tmp_path: Path) -> None:
    result = semlink("data", "show", "camvid", "--root", str(tmp_path), "--out", str(tmp_path / "s.png"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1


def test_eval_takes_several_codecs_with_their_own_knobs_and_plots(tmp_path: Path) -> None:
    args = ["eval", "--frames", "2", "--size", "64x128", "--device", "cpu", "--out", str(tmp_path)]
    code = main([*args, "--codec", "jpeg:target_bpp=0.5,1.0", "--codec", "resize:factor=4", "--codec", "identity"])
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [(r["codec"], r["target_bpp"], r["factor"]) for r in rows] == [
        ("jpeg", "0.5", ""),
        ("jpeg", "1", ""),
        ("resize", "", "4"),
        ("identity", "", ""),
    ]
    assert float(rows[0]["bpp"]) <= 0.5
    assert float(rows[3]["map_consistency"]) == 1.0  # identity shows exactly the scene the map says
    assert (tmp_path / "miou_vs_bpp.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("jpeg:target_bpp", "--codec 'jpeg:target_bpp': 'target_bpp' must look like key=value"),
        ("jpeg:target_bpp=x", "jpeg: target_bpp='x' must be a number > 0"),
        ("jpeg:rate=1:quality=2", "codec jpeg: 'rate' is gone; write target_bpp or quality instead"),
        ("sqgan:rate=0.2", "'rate' is gone; write tokens (the fraction of tokens sent, 0-1) or target_bpp"),
        ("jpeg:foo=1", "codec jpeg has no setting 'foo'; its settings: quality, target_bpp"),
        ("jpeg:qualty=50", "codec jpeg has no setting 'qualty' (did you mean 'quality'?); its settings: quality,"),
    ],
)
def test_eval_refuses_a_bad_codec_spec_in_one_line(spec: str, says: str, tmp_path: Path) -> None:
    result = semlink("eval", "--codec", spec, "--frames", "1", "--size", "64x128", "--out", str(tmp_path))
    assert result.returncode == 1
    assert says in result.stderr and len(result.stderr.splitlines()) == 1


def test_channel_curve_writes_csv_and_plot_beside_the_closed_form(tmp_path: Path) -> None:
    out = tmp_path / "curve"
    code = main(
        ["channel", "curve", "--model", "awgn", "--mcs", "5", "--coding", "none", "--snr", "4,8", "--out", str(out)]
    )
    assert code == 0 and (out / "curve.png").stat().st_size > 0
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert [float(r["snr_db"]) for r in rows] == [4.0, 8.0]
    for row in rows:  # 16-QAM, uncoded: measured within 10 % of the closed form
        assert abs(float(row["ber"]) / float(row["ber_theory"]) - 1.0) < 0.1


def test_channel_curve_coded_reports_bler(tmp_path: Path) -> None:
    out = tmp_path / "coded"
    args = ["channel", "curve", "--mcs", "4", "--snr=-2,6", "--block-bits", "256", "--blocks", "40"]
    assert main([*args, "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert float(rows[0]["bler"]) == 1.0 and float(rows[1]["bler"]) == 0.0


def test_channel_tools_refuse_bad_values_in_one_line(tmp_path: Path) -> None:
    result = semlink("channel", "tables", "--out", str(tmp_path / "t.json"), "--mcs", "1")
    assert (
        result.returncode == 1 and result.stderr.strip() == "semlink: error: mcs=1 is not an MCS index; allowed: 2..27"
    )
    result = semlink("channel", "tables", "--out", str(tmp_path / "t.json"), "--step", "0")
    assert result.returncode == 1 and "--step 0.0 must be > 0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("codecs", ["jpeg", "sqgan", "webp"]),
        ("channels", ["bernoulli", "gilbert_elliott", "phy"]),
        ("metrics", ["miou", "psnr"]),
        ("segmenters", ["shipped", "checkpoint"]),
        ("scenarios", ["quickstart", "cell-edge", "link-level"]),
    ],
)
def test_list_gives_one_line_per_component(kind: str, expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", kind]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert set(expected) <= set(names) and len(names) == len(set(names))
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every name has its summary


def test_list_shows_a_codec_s_settings(capsys: pytest.CaptureFixture[str]) -> None:
    main(["list", "codecs"])
    jpeg = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("jpeg "))
    assert "Baseline JPEG" in jpeg and "quality=None" in jpeg and "target_bpp=None" in jpeg


def test_eval_into_a_file_is_one_clean_stream_with_a_narrow_table_and_every_file_named(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = semlink("eval", "--frames", "2", "--codec", "jpeg:quality=50,80", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "point 0 scored" not in result.stderr and "relayed" not in result.stderr  # node lines: -v only
    assert max(len(line) for line in result.stdout.splitlines()[:-1]) <= 100  # the table
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"wrote in {out}: ")
    assert set(last.split(": ", 1)[1].split(", ")) >= {"results.csv", "frames.jsonl", "points.jsonl", "report.md"}
    verbose = semlink("eval", "-v", "--frames", "1", "--codec", "jpeg:quality=50", "--out", str(tmp_path / "v"))
    assert "point 0 scored" in verbose.stderr


def test_scenario_summaries_are_whole_sentences(tmp_path: Path) -> None:
    from semlink.cli.listing import first_comment, scenario_lines

    path = tmp_path / "s.yaml"
    path.write_text("# Loss over i.i.d. packets, e.g. on\n# a bus. Then more.\n# - a source\nname: x\n")
    assert first_comment(path) == "Loss over i.i.d. packets, e.g. on a bus."
    for line in scenario_lines():
        summary = line.split("  (scenarios/")[0].strip()
        assert summary.endswith((".", ")")), line

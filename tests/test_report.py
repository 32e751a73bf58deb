"""Reports: plots and a markdown table from hand-made results.csv files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from semlink.sim.report import MissingResultsError, ReportError, cell, panel_title, write_report

COLUMNS = [
    "codec",
    "target_bpp",
    "snr_db",
    "loss",
    "channel",
    "channel_params",
    "seed",
    "frames",
    "miou",
    "iou_road",
    "iou_car",
    "psnr",
    "ms_ssim",
    "frames_complete",
    "frames_concealed",
    "latency_ms_p50",
    "latency_ms_p95",
    "bpp",
    "bpp_wire",
    "packets_sent",
    "packets_lost",
]


def row(codec: str, rate: float, loss: str, bpp: float, miou: float, psnr: str = "30.5") -> dict[str, object]:
    """One results.csv row on a Gilbert-Elliott channel with no SNR."""
    return {
        "codec": codec,
        "target_bpp": rate,
        "channel": "gilbert_elliott",
        "snr_db": "",
        "loss": loss,
        "seed": 0,
        "frames": 10,
        "bpp": bpp,
        "bpp_wire": bpp * 1.1,
        "miou": miou,
        "psnr": psnr,
        "ms_ssim": 0.91234,
        "packets_sent": 120,
        "packets_lost": 6,
        "frames_complete": 8,
        "frames_concealed": 2,
        "latency_ms_p50": 3.21,
        "latency_ms_p95": 7.89,
        "iou_road": 0.9,
        "iou_car": "",
    }


def sweep(losses: tuple[str, ...]) -> list[dict[str, object]]:
    """Two codecs × three rates × ``losses``, plus one identity row with an infinite PSNR."""
    rows = [
        row(codec, rate, loss, bpp=scale * rate / 100, miou=0.3 + rate / 1000 - float(loss))
        for loss in losses
        for codec, scale in (("jpeg", 1.0), ("semantic", 0.2))
        for rate in (10.0, 50.0, 90.0)
    ]
    return [*rows, row("identity", 1.0, losses[0], bpp=24.0, miou=0.62, psnr="inf")]


def write_csv(folder: Path, rows: list[dict[str, object]]) -> Path:
    """Write ``rows`` as ``folder/results.csv``."""
    with (folder / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def table(report: Path) -> tuple[list[str], list[list[str]]]:
    """The header and body rows of the markdown table in ``report``, as lists of cells."""
    lines = [line for line in report.read_text().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2:]


def test_two_losses_write_both_plots_and_the_report(tmp_path: Path) -> None:
    written = write_report(write_csv(tmp_path, sweep(("0.0", "0.05"))))
    assert [p.name for p in written] == ["miou_vs_bpp.png", "miou_vs_loss.png", "report.md"]
    for path in written[:2]:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size[0] > 0 and image.size[1] > 0
    text = written[2].read_text()
    assert text.splitlines()[0] == f"# semlink report: {tmp_path.name}"
    assert "(miou_vs_bpp.png)" in text and "(miou_vs_loss.png)" in text


def test_markdown_has_one_row_per_csv_row_rounded(tmp_path: Path) -> None:
    rows = sweep(("0.0", "0.05"))
    header, body = table(write_report(write_csv(tmp_path, rows))[-1])
    assert len(body) == len(rows) == 13
    assert header[:4] == ["codec", "target_bpp", "snr_db", "loss"] and "packets_lost/packets_sent" in header
    identity = dict(zip(header, body[-1], strict=True))
    assert identity["psnr"] == "inf" and identity["snr_db"] == "-" and identity["bpp"] == "24.0000"
    assert identity["miou"] == "0.620" and identity["packets_lost/packets_sent"] == "6/120"


def test_single_loss_skips_the_loss_plot(tmp_path: Path) -> None:
    written = write_report(write_csv(tmp_path, sweep(("0.05",))))
    assert [p.name for p in written] == ["miou_vs_bpp.png", "report.md"]
    assert not (tmp_path / "miou_vs_loss.png").exists()
    assert "miou_vs_loss" not in (tmp_path / "report.md").read_text()


def test_codec_only_results_without_channel_columns(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(
        "codec,factor,channel,frames,miou,psnr,ms_ssim,bpp\nresize,2.0,ideal,3,0.5,28.1,0.9,6.0\n"
    )
    written = write_report(tmp_path)
    assert [p.name for p in written] == ["miou_vs_bpp.png", "report.md"]
    assert table(written[-1])[1] == [["resize", "2.0", "3", "6.0000", "0.500", "28.10", "0.9000"]]


def test_another_metric_is_plotted_when_asked_or_when_there_is_no_miou(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(
        "codec,quality,channel,frames,psnr,psnr_lo,psnr_hi,mae,bpp\n"
        "jpeg,20,ideal,3,25.0,24.0,26.0,9.5,0.2\njpeg,60,ideal,3,30.0,29.0,31.0,4.0,0.6\n"
    )
    assert [p.name for p in write_report(tmp_path)] == ["psnr_vs_bpp.png", "report.md"]
    assert [p.name for p in write_report(tmp_path, x="quality", y="mae")] == ["mae_vs_quality.png", "report.md"]
    assert table(tmp_path / "report.md")[0] == ["codec", "quality", "frames", "bpp", "psnr", "mae"]
    with pytest.raises(ReportError, match="no metric 'miou'; choose one of: psnr, mae"):
        write_report(tmp_path, y="miou")


def test_missing_results_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(MissingResultsError) as error:
        write_report(tmp_path)
    assert isinstance(error.value, FileNotFoundError) and isinstance(error.value, ValueError)
    assert str(tmp_path / "results.csv") in str(error.value) and "semlink run" in str(error.value)


@pytest.mark.parametrize("content", ["", ",".join(COLUMNS) + "\n"])
def test_empty_results_say_no_finished_points(tmp_path: Path, content: str) -> None:
    (tmp_path / "results.csv").write_text(content)
    with pytest.raises(ReportError, match="no finished points"):
        write_report(tmp_path)


def test_panel_titles_and_cells() -> None:
    assert panel_title(("gilbert_elliott", "-", "0.05", "-")) == "gilbert_elliott loss=0.05"
    assert panel_title(("awgn", "10", "-", "-")) == "awgn snr=10 dB"
    assert panel_title(("bsc", "-", "-", "ber=0.001")) == "bsc ber=0.001"
    assert cell({"psnr": "inf"}, "psnr") == "inf"
    assert cell({"miou": ""}, "miou") == "-"
    assert cell({"bpp": "0.123456"}, "bpp") == "0.1235"

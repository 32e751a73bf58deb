"""Reports: plots and a markdown table from hand-made results.csv files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from semlink.sim.report import MissingResultsError, ReportError, cell, write_report
from semlink.sim.rows import panel_title

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
    fields = list(COLUMNS)
    if any("miou_lo" in r for r in rows):
        fields[fields.index("miou") + 1 : fields.index("miou") + 1] = ["miou_lo", "miou_hi"]
    with (folder / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def table(report: Path) -> tuple[list[str], list[list[str]]]:
    """The header and body rows of the markdown table in ``report``, as lists of cells."""
    lines = [line for line in report.read_text().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2:]


def files(*figures: str) -> list[str]:
    """What a report writes: each figure as PNG and PDF, then report.md and report.html."""
    return [*(f"{stem}.{kind}" for stem in figures for kind in ("png", "pdf")), "report.md", "report.html"]


def test_two_losses_write_both_plots_and_the_report(tmp_path: Path) -> None:
    written = write_report(write_csv(tmp_path, sweep(("0.0", "0.05"))))
    assert [p.name for p in written] == files("miou_vs_bpp", "miou_vs_loss")
    for path in (written[0], written[2]):
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size[0] > 0 and image.size[1] > 0
    for path in (written[1], written[3]):
        assert path.read_bytes().startswith(b"%PDF")
    text = (tmp_path / "report.md").read_text()
    assert text.splitlines()[0] == f"# semlink report: {tmp_path.name}"
    assert "(miou_vs_bpp.png)" in text and "(miou_vs_loss.png)" in text


def test_markdown_has_one_row_per_csv_row_rounded(tmp_path: Path) -> None:
    rows = sweep(("0.0", "0.05"))
    write_report(write_csv(tmp_path, rows))
    header, body = table(tmp_path / "report.md")
    assert len(body) == len(rows) == 13
    assert header[:4] == ["codec", "target_bpp", "snr_db", "loss"] and "packets_lost/packets_sent" in header
    identity = dict(zip(header, body[-1], strict=True))
    assert identity["psnr"] == "inf" and identity["snr_db"] == "-" and identity["bpp"] == "24.0000"
    assert identity["miou"] == "0.620" and identity["packets_lost/packets_sent"] == "6/120"


def test_single_loss_skips_the_loss_plot(tmp_path: Path) -> None:
    written = write_report(write_csv(tmp_path, sweep(("0.05",))))
    assert [p.name for p in written] == files("miou_vs_bpp")
    assert not (tmp_path / "miou_vs_loss.png").exists()
    assert "miou_vs_loss" not in (tmp_path / "report.md").read_text()


def test_codec_only_results_without_channel_columns(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(
        "codec,factor,channel,frames,miou,psnr,ms_ssim,bpp\nresize,2.0,ideal,3,0.5,28.1,0.9,6.0\n"
    )
    written = write_report(tmp_path)
    assert [p.name for p in written] == files("miou_vs_bpp")
    assert table(tmp_path / "report.md")[1] == [["resize", "2.0", "3", "6.0000", "0.500", "28.10", "0.9000"]]


def test_another_metric_is_plotted_when_asked_or_when_there_is_no_miou(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(
        "codec,quality,channel,frames,psnr,psnr_lo,psnr_hi,mae,bpp\n"
        "jpeg,20,ideal,3,25.0,24.0,26.0,9.5,0.2\njpeg,60,ideal,3,30.0,29.0,31.0,4.0,0.6\n"
    )
    assert [p.name for p in write_report(tmp_path)] == files("psnr_vs_bpp")
    assert [p.name for p in write_report(tmp_path, x="quality", y="mae")] == files("mae_vs_quality")
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


def with_intervals(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows with a 95 % interval of ±0.02 around their mIoU."""
    return [{**r, "miou_lo": float(str(r["miou"])) - 0.02, "miou_hi": float(str(r["miou"])) + 0.02} for r in rows]


def test_bpp_panels_share_their_axes_and_carry_reference_knob_and_intervals() -> None:
    from matplotlib.container import ErrorbarContainer

    from semlink.sim.plots import plot_vs_bpp

    rows = [{k: str(v) for k, v in r.items()} for r in with_intervals(sweep(("0.0", "0.05", "0.1")))]
    figure = plot_vs_bpp(rows, "miou")
    figure.canvas.draw()
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 3
    assert len({ax.get_ylim() for ax in panels}) == 1 and len({ax.get_xlim() for ax in panels}) == 1
    assert all(panels[0].get_shared_y_axes().joined(panels[0], ax) for ax in panels)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "jpeg, target 10–90 bpp" in legend and "clean image: 0.62" in legend
    dashed = [line for line in panels[0].get_lines() if line.get_linestyle() == "--"]
    assert [round(line.get_ydata()[0], 3) for line in dashed] == [0.62]  # type: ignore[index]
    assert sum(isinstance(c, ErrorbarContainer) and c.has_yerr for c in panels[0].containers) == 2
    ticks = [label.get_text() for ax in panels for label in ax.get_xticklabels() if label.get_text()]
    assert ticks and all("10^" not in t and "×" not in t and "\\times" not in t for t in ticks), ticks
    assert panels[-1].get_xlabel() == "bits per pixel (bpp)" and panels[0].get_ylabel() == "mIoU (95 % interval)"


def test_a_long_legend_fits_the_figure_and_no_two_codecs_share_a_colour() -> None:
    """Eleven codec variants with long names on one panel: every legend entry inside the figure."""
    from semlink.sim.plots import plot_vs_bpp

    rows = []
    for index in range(11):
        for rate in (0.02, 0.05):
            entry = {k: str(v) for k, v in row(f"codec{index}", rate, "0.0", rate, 0.5).items()}
            rows.append({**entry, "map_scale": "2", "options": f"a_long_option_name_{index}"})
    figure = plot_vs_bpp(rows, "miou")
    figure.canvas.draw()
    box = figure.bbox
    legend = figure.legends[0]
    assert len(legend.get_texts()) == 11
    for text in legend.get_texts():
        extent = text.get_window_extent()
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()
        assert box.y0 - 1 <= extent.y0 and extent.y1 <= box.y1 + 1, text.get_text()
    colours = [handle.get_color() for handle in legend.legend_handles if hasattr(handle, "get_color")]
    assert len(set(map(str, colours))) == len(colours)


def test_several_runs_overlay_into_one_report(tmp_path: Path) -> None:
    for name, shift in (("baseline", 0.0), ("tuned", 0.05)):
        (tmp_path / name).mkdir()
        rows = sweep(("0.0",))
        write_csv(tmp_path / name, [{**r, "miou": float(str(r["miou"])) + shift} for r in rows])
    out = tmp_path / "both"
    written = write_report(out, runs=[tmp_path / "baseline", tmp_path / "tuned"])
    assert [p.name for p in written] == files("miou_vs_bpp")
    header, body = table(out / "report.md")
    assert header[:2] == ["codec", "run"] and len(body) == 14
    assert {cells[1] for cells in body} == {"baseline", "tuned"}
    assert "baseline vs tuned" in (out / "report.md").read_text().splitlines()[0]
    with pytest.raises(ReportError, match="folders of different names"):
        write_report(out, runs=[tmp_path / "baseline", tmp_path / "baseline"])


def test_overlaying_without_an_output_folder_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "semlink.cli", "report", str(tmp_path), str(tmp_path)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1 and result.stderr.strip() == (
        "semlink: error: overlaying 2 runs needs --out DIR (where their joint report goes)"
    )


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_html_report_opens_in_a_real_browser_with_its_figures(tmp_path: Path) -> None:
    import subprocess

    write_report(write_csv(tmp_path, with_intervals(sweep(("0.0", "0.05")))))
    page = (tmp_path / "report.html").resolve().as_uri()
    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*browser, "--dump-dom", "--virtual-time-budget=5000", page],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert 'data-images-loaded="2/2"' in dom.stdout, dom.stderr[-2000:]
    assert dom.stdout.count("<tr>") == 14 and "miou_vs_loss.pdf" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1200,1500", page],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert image.size == (1200, 1500) and colours is not None and len(colours) > 50  # figures drawn, not a blank page

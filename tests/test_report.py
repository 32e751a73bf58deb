"""Reports: plots and a markdown table from hand-made results.csv files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from semlink.report.document import MissingResultsError, ReportError, cell, write_report

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
        "channel_params": f"burst=3 loss={loss}",
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
    if any("repeats" in r for r in rows):
        fields.insert(fields.index("seed") + 1, "repeats")
    if any("miou_lo" in r for r in rows):
        fields[fields.index("miou") + 1 : fields.index("miou") + 1] = ["miou_lo", "miou_hi"]
    with (folder / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def as_read(rows: list[dict[str, object]], axes: tuple[str, ...] = ()) -> tuple[list[str], list[dict[str, str]]]:
    """``rows`` as :func:`read_results` gives them: a header in results.csv's order (``axes`` as
    more axis columns, intervals after their metric) and every cell as text."""
    header = list(COLUMNS)
    header[header.index("channel") : header.index("channel")] = list(axes)
    if any("miou_lo" in r for r in rows):
        header[header.index("miou") + 1 : header.index("miou") + 1] = ["miou_lo", "miou_hi"]
    return header, [{c: str(r.get(c, "")) for c in header} for r in rows]


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
    # human headings; snr_db (empty in every row) left out; loss as percent
    assert header == ["codec", "target bpp", "loss (%)", "bpp", "bpp on the wire", "mIoU", "PSNR (dB)"]
    identity = dict(zip(header, body[-1], strict=True))
    assert identity["PSNR (dB)"] == "∞" and identity["bpp"] == "24.0000" and identity["mIoU"] == "0.620"
    assert identity["target bpp"] == "1" and identity["loss (%)"] == "0"
    assert {cells[2] for cells in body} == {"0", "5"}
    # the columns equal in every row are said once above the table instead of repeated
    text = (tmp_path / "report.md").read_text()
    assert "In every row: frames 10, MS-SSIM 0.9123, frames complete 8, frames concealed 2" in text
    assert "packets lost / sent 6/120" in text


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
    header, body = table(tmp_path / "report.md")
    assert header == ["codec", "factor", "frames", "bpp", "mIoU", "PSNR (dB)", "MS-SSIM"]
    assert body == [["resize", "2", "3", "6.0000", "0.500", "28.10", "0.9000"]]


def test_another_metric_is_plotted_when_asked_or_when_there_is_no_miou(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text(
        "codec,quality,channel,frames,psnr,psnr_lo,psnr_hi,mae,bpp\n"
        "jpeg,20,ideal,3,25.0,24.0,26.0,9.5,0.2\njpeg,60,ideal,3,30.0,29.0,31.0,4.0,0.6\n"
    )
    assert [p.name for p in write_report(tmp_path)] == files("psnr_vs_bpp")
    assert [p.name for p in write_report(tmp_path, x="quality", y="mae")] == files("mae_vs_quality")
    assert table(tmp_path / "report.md")[0] == ["codec", "quality", "bpp", "PSNR (dB)", "mae"]
    assert "In every row: frames 3." in (tmp_path / "report.md").read_text()
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


def test_cells() -> None:
    assert cell({"psnr": "inf"}, "psnr") == "∞" and cell({"psnr": "-inf"}, "psnr") == "-∞"
    assert cell({"miou": ""}, "miou") == "-"
    assert cell({"bpp": "0.123456"}, "bpp") == "0.1235"


def with_intervals(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows with a 95 % interval of ±0.02 around their mIoU."""
    return [{**r, "miou_lo": float(str(r["miou"])) - 0.02, "miou_hi": float(str(r["miou"])) + 0.02} for r in rows]


def test_bpp_panels_share_their_axes_and_carry_reference_knob_and_intervals() -> None:
    from matplotlib.container import ErrorbarContainer

    from semlink.report.plots import plot_vs_bpp

    header, rows = as_read(with_intervals(sweep(("0.0", "0.05", "0.1"))))
    figure = plot_vs_bpp(rows, "miou", header).figure
    figure.canvas.draw()
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 3
    assert len({ax.get_ylim() for ax in panels}) == 1 and len({ax.get_xlim() for ax in panels}) == 1
    assert all(panels[0].get_shared_y_axes().joined(panels[0], ax) for ax in panels)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "jpeg, target 10–90 bpp" in legend and "clean image (identity): 0.62" in legend
    dashed = [line for line in panels[0].get_lines() if line.get_linestyle() == "--"]
    assert [round(line.get_ydata()[0], 3) for line in dashed] == [0.62]  # type: ignore[index]
    assert sum(isinstance(c, ErrorbarContainer) and c.has_yerr for c in panels[0].containers) == 2
    ticks = [label.get_text() for ax in panels for label in ax.get_xticklabels() if label.get_text()]
    assert ticks and all("10^" not in t and "×" not in t and "\\times" not in t for t in ticks), ticks
    assert panels[-1].get_xlabel() == "bits per pixel (bpp)" and panels[0].get_ylabel() == "mIoU (95 % interval)"


def test_a_long_legend_fits_the_figure_and_no_two_codecs_share_a_colour() -> None:
    """Eleven codec variants with long names on one panel: every legend entry inside the figure."""
    from semlink.report.plots import plot_vs_bpp

    rows = []
    for index in range(11):
        for rate in (0.02, 0.05):
            entry = row(f"codec{index}", rate, "0.0", rate, 0.5)
            rows.append({**entry, "map_scale": "2", "options": f"a_long_option_name_{index}"})
    header, read = as_read(rows, ("map_scale", "options"))
    figure = plot_vs_bpp(read, "miou", header).figure
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


def browse(page: Path, profile: Path, width: int) -> str:
    """The DOM of ``page`` after Chromium loaded it in a window ``width`` pixels wide."""
    import subprocess

    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}"]
    dom = subprocess.run([*browser, "--dump-dom", "--virtual-time-budget=5000", f"--window-size={width},1000",
                          page.resolve().as_uri()], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "data-images-loaded" in dom.stdout, dom.stderr[-2000:]
    return dom.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_html_report_opens_in_a_real_browser_with_its_figures(tmp_path: Path) -> None:
    import subprocess

    write_report(write_csv(tmp_path, with_intervals(sweep(("0.0", "0.05")))))
    page = (tmp_path / "report.html").resolve().as_uri()
    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = browse(tmp_path / "report.html", tmp_path / "profile", 1200)
    assert 'data-images-loaded="2/2"' in dom and 'data-table-overflow-px="0"' in dom
    assert dom.count("<tr>") == 14 and "miou_vs_loss.pdf" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1200,1500", page],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert image.size == (1200, 1500) and colours is not None and len(colours) > 50  # figures drawn, not a blank page


def radio_sweep(profiles: tuple[str, ...]) -> tuple[list[str], list[dict[str, str]]]:
    """Two codecs × two rates on a radio channel swept over SNR, a long-named plugin parameter
    (``profile_name``) and speed; ``taps`` is the same everywhere."""
    rows = []
    for snr in ("0", "10", "20"):
        for profile in profiles:
            for speed in ("3", "120"):
                for codec, rate in (("jpeg", 0.1), ("jpeg", 0.4), ("sqgan", 0.05), ("sqgan", 0.1)):
                    entry = row(codec, rate, "", rate, 0.4 + rate)
                    params = f"profile_name={profile} snr_db={snr} speed_kmh={speed} taps=12"
                    entry.update(snr_db=snr, channel="tdl", channel_params=params, profile_name=profile)
                    rows.append({**entry, "speed_kmh": speed})
    return as_read(rows, ("profile_name", "speed_kmh"))


def test_panel_titles_name_only_what_varies_and_never_overlap() -> None:
    from semlink.report.plots import plot_vs_bpp

    header, rows = radio_sweep(("urban_macro_non_line_of_sight_with_blockage", "rural_macro_line_of_sight"))
    figure = plot_vs_bpp(rows, "miou", header).figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 6  # SNR × profile; speed is told apart by line style
    titles = [ax.title for ax in panels]
    for ax, title in zip(panels, titles, strict=True):
        text = title.get_text()
        assert "SNR" in text and ("urban" in text or "rural" in text), text
        assert "taps" not in text and "km/h" not in text and "tdl" not in text, text  # the same in every panel
        box, frame = title.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, text  # within its own panel
    boxes = [title.get_window_extent(renderer) for title in titles]
    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            assert not boxes[first].overlaps(boxes[second]), (titles[first].get_text(), titles[second].get_text())
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == ["jpeg, target 0.1–0.4 bpp", "sqgan, target 0.05–0.1 bpp", "3 km/h", "120 km/h"]
    dashes = {line.get_linestyle() for line in figure.legends[0].get_lines()[2:]}
    assert len(dashes) == 2  # one line style per speed


def test_tick_labels_never_collide() -> None:
    from semlink.report.plots import plot_against, plot_vs_bpp

    rates = [0.011, 0.013, 0.017, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13, 0.2, 0.3, 0.5, 0.7, 1.0, 1.3, 2.0]
    header, rows = as_read([row("jpeg", rate, "0.0", rate, 0.3 + rate / 10) for rate in rates])
    losses = ("0.0", "0.001", "0.002", "0.005", "0.01", "0.2")  # swept values are ticked, crowded near 0
    loss_header, loss_rows = as_read([row("jpeg", 0.1, loss, 0.1, 0.4 - float(loss)) for loss in losses])
    for drawn in (
        plot_vs_bpp(rows, "miou", header),
        plot_against(rows, header, "target_bpp", None, "miou"),
        plot_against(loss_rows, loss_header, "loss", None, "miou"),
    ):
        figure = drawn.figure
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        for ax in (ax for ax in figure.axes if ax.get_visible()):
            for axis in (ax.xaxis, ax.yaxis):
                labels = [t.label1 for t in axis.get_major_ticks() if t.label1.get_visible() and t.label1.get_text()]
                assert len(labels) >= 2
                boxes = [label.get_window_extent(renderer) for label in labels]
                for first in range(len(boxes)):
                    for second in range(first + 1, len(boxes)):
                        assert not boxes[first].overlaps(boxes[second]), (labels[first], labels[second])
    assert plot_vs_bpp(rows, "miou", header).figure.axes[0].get_xscale() == "log"  # 0.011–2 bpp: two decades


def legend_colours(figure: object) -> dict[str, str]:
    """Each legend entry of a figure and its colour, as hex."""
    from matplotlib.colors import to_hex

    legend = figure.legends[0]  # type: ignore[attr-defined]
    return {
        text.get_text(): to_hex(handle.get_color())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
        if hasattr(handle, "get_color")
    }


def test_one_colour_per_codec_across_every_figure_of_a_run(tmp_path: Path) -> None:
    from matplotlib.colors import to_hex

    from semlink.report.document import draw_figures

    header, rows = as_read(sweep(("0.0", "0.05", "0.1")))
    drawn = draw_figures(tmp_path, header, rows, None, None, "miou")
    assert [path.name for path, _ in drawn] == ["miou_vs_bpp.png", "miou_vs_loss.png"]
    by_bpp, by_loss = (legend_colours(d.figure) for _, d in drawn)
    assert by_bpp["jpeg, target 10–90 bpp"] == to_hex("C0") and by_bpp["semantic, target 10–90 bpp"] == to_hex("C1")
    owners: dict[str, set[str]] = {}
    for entries in (by_bpp, by_loss):
        for label, colour in entries.items():
            owners.setdefault(colour, set()).add(label.split(",")[0].split(":")[0])
    assert all(len(codecs) == 1 for codecs in owners.values()), owners  # no colour names two codecs
    # against loss, a line per rate in shades of its codec's colour, the middle rate in the colour itself
    assert by_loss["jpeg, target 50 bpp"] == by_bpp["jpeg, target 10–90 bpp"]
    assert by_loss["semantic, target 50 bpp"] == by_bpp["semantic, target 10–90 bpp"]
    assert len({by_loss[f"jpeg, target {rate} bpp"] for rate in (10, 50, 90)}) == 3


def test_the_loss_axis_is_in_percent_and_points_at_one_x_are_set_apart() -> None:
    from semlink.report.plots import plot_against, plot_vs_bpp

    header, rows = as_read(with_intervals(sweep(("0.0", "0.05", "0.1"))))
    drawn = plot_against(rows, header, "loss", None, "miou")
    ax = drawn.figure.axes[0]
    drawn.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()] == ["0", "5", "10"]
    assert ax.get_xlabel() == "packet loss (%)"
    xs = [c.lines[0].get_xdata()[0] for c in ax.containers if len(c.lines[0].get_xdata()) == 3]  # type: ignore[attr-defined, index]
    assert len(xs) == 6 and len(set(xs)) == 6  # six lines at loss 0, none hiding another
    assert all(abs(x) < 0.1 * 0.1 for x in xs)  # ... and only slightly apart (within a tenth of the span)
    bpp = plot_vs_bpp(rows, "miou", header).figure
    assert [a.get_title() for a in bpp.axes if a.get_visible()] == ["loss 0 %", "loss 5 %", "loss 10 %"]
    lines = [c.lines[0] for c in bpp.axes[0].containers]  # type: ignore[attr-defined]
    at_tenth = [x for line in lines for x in line.get_xdata() if abs(x - 0.1) < 0.02]
    assert len(at_tenth) == 2 and at_tenth[0] != at_tenth[1]  # jpeg at 10 and semantic at 50 both land on 0.1 bpp


def test_the_caption_says_what_each_point_averages_over(tmp_path: Path) -> None:
    write_report(write_csv(tmp_path, with_intervals(sweep(("0.0", "0.05")))), x="loss", by="codec")
    text = (tmp_path / "report.md").read_text()
    assert "Each point is the mean of the rows of results.csv that differ only in target bpp (10, 50, 90)" in text
    write_report(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "its mean over 10 frames; bars: its 95 % interval (bootstrap over frames). Panels: packet loss" in text


def test_intervals_in_the_table_with_a_single_repeat_are_over_frames(tmp_path: Path) -> None:
    rows = [{**r, "repeats": 1} for r in with_intervals(sweep(("0.0",)))]
    write_report(write_csv(tmp_path, rows))
    header, body = table(tmp_path / "report.md")
    assert dict(zip(header, body[0], strict=True))["mIoU"] == "0.310 [0.290, 0.330]"
    text = (tmp_path / "report.md").read_text()
    assert "In brackets: the 95 % interval of the value, a bootstrap over the point's frames" in text
    write_report(write_csv(tmp_path, sweep(("0.0",))))
    assert "In brackets" not in (tmp_path / "report.md").read_text()  # no intervals, no brackets


def test_counts_are_printed_as_integers(tmp_path: Path) -> None:
    rows = [
        {**row("jpeg", 0.1, "0.0", 0.1, 0.3), "frames": "10.0", "frames_complete": "8.0", "packets_lost": "6.0"},
        {**row("jpeg", 0.2, "0.0", 0.2, 0.4), "frames": "10.0", "frames_complete": "7.5", "packets_sent": "130.0"},
    ]
    write_report(write_csv(tmp_path, rows))
    header, body = table(tmp_path / "report.md")
    cells = [dict(zip(header, cells, strict=True)) for cells in body]
    assert [c["frames complete"] for c in cells] == ["8", "7.5"]  # a mean over realisations keeps its half
    assert [c["packets lost / sent"] for c in cells] == ["6/120", "6/130"]
    assert [c["target bpp"] for c in cells] == ["0.1", "0.2"]
    assert "In every row: loss (%) 0, frames 10, PSNR (dB) 30.50," in (tmp_path / "report.md").read_text()


def test_table_headings_are_words_and_uninformative_columns_are_left_out() -> None:
    from semlink.report.tables import build_table

    header, rows = radio_sweep(("a", "b"))
    for index, entry in enumerate(rows):
        entry.update(mcs=str(index % 5), harq_tx_mean="1.25", airtime_ms="", deadline_misses="0")
    header += ["mcs", "harq_tx_mean", "airtime_ms", "deadline_misses"]
    built = build_table(header, rows)
    assert built.headings == [
        "codec", "target bpp", "SNR (dB)", "profile name", "speed (km/h)", "bpp", "bpp on the wire", "mIoU", "MCS"
    ]  # fmt: skip
    assert all("_" not in heading for heading in built.headings)
    said = built.same_line()
    assert "transmissions per packet 1.25" in said and "PSNR (dB) 30.50" in said
    assert "airtime" not in said and "late packets" not in said  # empty or zero everywhere: left out
    assert "loss" not in built.headings and "loss" not in said  # empty in every row


def test_the_report_opens_with_the_runs_settings_and_versions(tmp_path: Path) -> None:
    from importlib import metadata

    from semlink import __version__
    from semlink.scenario.loading import dump_scenario, load_scenario

    scenarios = Path(__file__).resolve().parents[1] / "scenarios"
    dump_scenario(load_scenario(scenarios / "quickstart.yaml"), tmp_path / "scenario.yaml")
    write_report(write_csv(tmp_path, sweep(("0.0", "0.05"))))
    text = (tmp_path / "report.md").read_text()
    settings = text.split("## Settings", 1)[1].split("## Figures", 1)[0]
    for line in (
        "- Run `quickstart`: seed 7, 1 channel realisation per point, transport zmq.",
        "- Data: synthetic val, 30 frames a point, 256×512.",
        "- Channel: gilbert_elliott, loss 0–10 % (swept), burst 3, rate 6000000 bit/s, delay 2 ms.",
        "- Link: MTU 1200, 10 frames/s, deadline 100 ms, window 4.",
        "- Codecs: jpeg (target 0.1–0.4 bpp (swept)); webp (target 0.1–0.4 bpp (swept)).",
    ):
        assert line in settings.splitlines(), (line, settings)
    assert f"Report drawn by semlink {__version__} on " in settings
    assert f"matplotlib {metadata.version('matplotlib')}" in settings and "Python 3." in settings
    (tmp_path / "bare").mkdir()
    write_report(write_csv(tmp_path / "bare", sweep(("0.0",))))
    assert "the run's settings are unknown" in (tmp_path / "bare" / "report.md").read_text()


def test_the_html_report_has_every_section_of_the_markdown(tmp_path: Path) -> None:
    import html
    import re

    (tmp_path / "work.json").write_text('{"wall_s": 12.5, "cache": null}')
    write_report(write_csv(tmp_path, with_intervals(sweep(("0.0", "0.05")))))
    markdown = (tmp_path / "report.md").read_text()
    page = html.unescape(re.sub(r"<[^>]+>", "", (tmp_path / "report.html").read_text()))
    titles = re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)
    assert titles == ["Settings", "Figures", "Results", "Work of the last run"]
    assert re.findall(r"<h2>(.+?)</h2>", (tmp_path / "report.html").read_text()) == titles
    words = [
        re.sub(r"[`*]", "", line.removeprefix("- "))
        for line in markdown.splitlines()
        if line and not line.startswith(("#", "|", "!["))
    ]
    assert len(words) >= 9
    for line in words:
        assert line in page, line
    for png in re.findall(r"\]\(([^)]+\.png)\)", markdown):
        assert f'src="{png}"' in (tmp_path / "report.html").read_text()
    body = table(tmp_path / "report.md")[1]
    assert page.count("0.310 [0.290, 0.330]") == sum(cell == "0.310 [0.290, 0.330]" for r in body for cell in r)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_a_wide_table_shows_every_column_from_1200_to_1600_pixels(tmp_path: Path) -> None:
    header, rows = radio_sweep(("urban", "rural"))
    metrics = ("miou", "pixel_accuracy", "psnr", "ms_ssim")
    at = header.index("miou")
    header[at : at + 1] = [column for metric in metrics for column in (metric, f"{metric}_lo", f"{metric}_hi")]
    header += ["mcs", "harq_tx_mean", "airtime_ms", "deadline_misses"]
    for index, entry in enumerate(rows):
        for metric, value in zip(metrics, (0.41, 0.83, 29.5, 0.91), strict=True):
            entry.update({metric: str(value + index / 10000), f"{metric}_lo": str(value - 0.01)})
            entry[f"{metric}_hi"] = str(value + 0.02)
        entry.update(mcs=str(index % 27), harq_tx_mean=str(1 + index / 50), airtime_ms=str(index / 7))
        entry.update(deadline_misses=str(index % 3), latency_ms_p50=str(index), packets_lost=str(index % 9))
    with (tmp_path / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    write_report(tmp_path)
    assert len(table(tmp_path / "report.md")[0]) >= 15
    for width in (1200, 1600):
        dom = browse(tmp_path / "report.html", tmp_path / "profile", width)
        assert 'data-table-overflow-px="0"' in dom, (width, dom.split("data-table-overflow-px=")[1][:10])


def test_points_set_apart_never_drift_towards_the_next_x() -> None:
    """Eight series at SNRs 1 dB apart over 20 dB: each group spreads over at most 0.4 of the gap,
    so a point is always read at its own x (it was spread over 2 dB, drawing 2 dB's points at 1)."""
    from semlink.report.style import DODGE_GAP, dodge

    xs = [list(range(21)) for _ in range(8)]
    moved = dodge(xs, False)
    assert (
        max(abs(m - x) for row, out in zip(xs, moved, strict=True) for x, m in zip(row, out, strict=True))
        <= DODGE_GAP / 2 + 1e-9
    )
    assert len({round(out[5], 6) for out in moved}) == 8  # still apart


def test_a_count_whose_interval_bound_rounds_whole_prints_whole() -> None:
    """A bootstrap bound of a count (20.97 frames) printed ``21.0`` beside whole counts."""
    row = {"codec": "jpeg", "frames_complete": "25", "frames_complete_lo": "20.97", "frames_complete_hi": "29"}
    assert cell(row, "frames_complete") == "25 [21, 29]"
    assert cell({**row, "frames_complete_lo": "20.5"}, "frames_complete") == "25 [20.5, 29]"

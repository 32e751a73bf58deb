"""``semlink eval --sheet``: a contact sheet of the first frames as each codec setting decodes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semlink.cli import main
from semlink.data import open_source
from semlink.report.sheet import CAPTION_PX


def test_the_sheet_holds_originals_maps_and_a_column_per_codec_setting(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    code = main(["eval", "--data", "synthetic", "--frames", "3", "--size", "64x128", "--out", str(out),
                 "--codec", "jpeg:quality=20,60", "--codec", "ssm", "--sheet", "2", "-q"])  # fmt: skip
    assert code == 0
    sheet = np.asarray(Image.open(out / "sheet.png").convert("RGB"))
    columns = 2 + 3  # original, map, jpeg 20, jpeg 60, ssm
    assert sheet.shape == (CAPTION_PX + 2 * 64, columns * 128, 3)
    frames = open_source("synthetic", "val", (64, 128), None, seed=0)
    for row, index in enumerate((0, 2)):  # the first and the last of the three evaluated frames
        tile = sheet[CAPTION_PX + row * 64 : CAPTION_PX + (row + 1) * 64, :128]
        assert np.array_equal(tile, frames.frame(index).image)  # the originals, unscaled (under 320 px)
    jpeg_low = sheet[CAPTION_PX:, 2 * 128 : 3 * 128].astype(int)
    jpeg_high = sheet[CAPTION_PX:, 3 * 128 : 4 * 128].astype(int)
    original = sheet[CAPTION_PX:, :128].astype(int)
    assert np.abs(jpeg_high - original).mean() < np.abs(jpeg_low - original).mean()  # quality shows


def test_a_sheet_of_no_frames_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--data", "synthetic", "--frames", "2", "--size", "64x128", "--out", str(tmp_path),
              "--codec", "jpeg:quality=20", "--sheet", "0"])  # fmt: skip
    assert "--sheet: '0' must be at least 1" in capsys.readouterr().err

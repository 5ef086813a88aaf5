"""The duplicate pairs' CSV (CLI --csv and the web download): records are text someone else
typed (manifest subject references), so none may run as a spreadsheet formula."""

import csv
import io

from facesift.search.duplicates import PAIR_COLUMNS, DuplicatePair, pairs_csv


def test_a_record_that_looks_like_a_formula_is_written_as_text():
    pairs = [
        DuplicatePair('=HYPERLINK("http://x.example")', "+1-555", 3, 9, 0.31234, 2e-5),
        DuplicatePair("@SUM(A1)", "-2", 4, 5, 0.4, 1e-4),
        DuplicatePair("person-17", "image:12", 6, 7, 0.5, 1e-3),
    ]
    rows = list(csv.reader(io.StringIO(pairs_csv(pairs))))
    assert tuple(rows[0]) == PAIR_COLUMNS
    assert [row[:2] for row in rows[1:]] == [
        ['\'=HYPERLINK("http://x.example")', "'+1-555"],
        ["'@SUM(A1)", "'-2"],
        ["person-17", "image:12"],
    ]
    assert rows[1][2:] == ["3", "9", "0.3123", "2e-05"]

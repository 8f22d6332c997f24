import pytest

from qa.text.dates import date_number, parse_date

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-04", "2024-01-04"),
        ("2024-01-04 10:32:00", "2024-01-04"),
        ("2024-01-04T10:32:00Z", "2024-01-04"),
        ("2024/1/4", "2024-01-04"),
        ("January 4, 2024", "2024-01-04"),
        ("Jan. 4, 2024", "2024-01-04"),
        ("Thursday, January 4, 2024", "2024-01-04"),
        ("4 January 2024", "2024-01-04"),
        ("Sept 30 2023", "2023-09-30"),
    ],
)
def test_parse_date_reads_iso_and_written_dates(value: str, expected: str) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-02-30", "Smarch 3, 2024", "12345"])
def test_parse_date_returns_none_instead_of_guessing(value: str | None) -> None:
    assert parse_date(value) is None


def test_date_number_orders_dates_and_marks_undated_as_zero() -> None:
    assert date_number("2024-01-04") == 20240104
    assert date_number(None) == 0

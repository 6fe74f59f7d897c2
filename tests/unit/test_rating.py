import pytest

from actions.rating import RatingError, quote


def test_auto_premium_follows_the_documented_table() -> None:
    # (620 + 18 * 18) * 1.00 for a 34-year-old driver of an $18,000 car
    result = quote("auto", 34, insured_value=18000)
    assert result.annual_premium == 944.00
    assert result.monthly_premium == round(944.00 / 12, 2)


def test_young_drivers_pay_more() -> None:
    assert quote("auto", 19, insured_value=18000).annual_premium > quote("auto", 40, insured_value=18000).annual_premium


def test_travel_is_priced_per_trip() -> None:
    # (12 + 4.20 * 10) * 1.70 for a 65-year-old on a 10-day trip
    assert quote("travel", 65, trip_days=10).annual_premium == 91.80


@pytest.mark.parametrize(
    "args",
    [("life", 80, 500000, None), ("home", 40, 1000, None), ("travel", 30, None, 400), ("boat", 40, 1000, None)],
)
def test_outside_the_table_is_a_clear_error(args: tuple) -> None:
    product, age, value, days = args
    with pytest.raises(RatingError) as error:
        quote(product, age, insured_value=value, trip_days=days)
    assert str(error.value)  # a sentence fit for the customer

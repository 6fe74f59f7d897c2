"""Premiums from the documented rating table (demo_data/rating_table.yml); pure, so it is testable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from actions.demo_data import rating_table


class RatingError(ValueError):
    """The inputs are outside what the table rates; the message is fit to show the customer."""


@dataclass(frozen=True)
class QuoteResult:
    product: str
    annual_premium: float
    monthly_premium: float
    inputs: Dict[str, Any]


def age_factor(product: str, age: int, table: Optional[Dict[str, Any]] = None) -> float:
    bands = (table or rating_table())["products"][product]["age_factors"]
    for low, high, factor in bands:
        if low <= age <= high:
            return float(factor)
    youngest, oldest = bands[0][0], bands[-1][1]
    raise RatingError(f"We can quote {product} cover online for ages {youngest} to {oldest}.")


def quote(
    product: str, age: int, insured_value: Optional[float] = None, trip_days: Optional[int] = None
) -> QuoteResult:
    table = rating_table()
    if product not in table["products"]:
        raise RatingError(f"We don't offer '{product}' cover; choose auto, home, renters, travel or life.")
    row, limits = table["products"][product], table["limits"][product]
    factor = age_factor(product, age, table)
    if product == "travel":
        if trip_days is None or not limits["min_days"] <= trip_days <= limits["max_days"]:
            raise RatingError(f"Trips from {limits['min_days']} to {limits['max_days']} days can be quoted.")
        annual = (row["base"] + row["per_day"] * trip_days) * factor
        inputs: Dict[str, Any] = {"age": age, "trip_days": trip_days}
    else:
        if insured_value is None or not limits["min_value"] <= insured_value <= limits["max_value"]:
            raise RatingError(
                f"For {product} we can quote values from ${limits['min_value']:,} to ${limits['max_value']:,}."
            )
        annual = (row["base"] + row["rate_per_1000"] * insured_value / 1000) * factor
        inputs = {"age": age, "insured_value": insured_value}
    annual = round(annual, 2)
    monthly = round(annual, 2) if product == "travel" else round(annual / 12, 2)
    return QuoteResult(product=product, annual_premium=annual, monthly_premium=monthly, inputs=inputs)

"""Load the demo insurer's customers, policies and claims (demo_data/customers.yml).

Idempotent: rows are matched by policy number / claim reference, so `make run` can call it every time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Optional

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.engine import session_scope
from storage.models import Claim, Customer, Policy
from storage.settings import PROJECT_ROOT

SEED_FILE = PROJECT_ROOT / "demo_data" / "customers.yml"


def _days(today: date, offset: Optional[int]) -> Optional[date]:
    return None if offset is None else today + timedelta(days=offset)


def _policy(customer: Customer, row: Dict[str, Any], today: date) -> Policy:
    start = today - timedelta(days=row["start_days_ago"])
    return Policy(
        number=row["number"],
        customer=customer,
        product=row["product"],
        status=row.get("status", "active"),
        start_date=start,
        end_date=start + timedelta(days=row["term_days"]),
        annual_premium=Decimal(str(row["annual_premium"])),
        deductible=row["deductible"],
        amount_due=Decimal(str(row["amount_due"])),
        next_due_date=_days(today, row.get("due_in_days")),
        last_payment_amount=Decimal(str(row["last_payment"])),
        last_payment_date=_days(today, -row["paid_days_ago"]),
    )


def _fill_date_of_birth(session: Session, entry: Dict[str, Any]) -> None:
    """Demo customers seeded before dates of birth existed get theirs, so they can verify in chat."""
    born = entry.get("date_of_birth")
    customer = session.scalars(
        select(Customer).join(Policy).where(Policy.number == entry["policies"][0]["number"])
    ).first()
    if born is not None and customer is not None and customer.date_of_birth is None:
        customer.date_of_birth = born


def seed(session: Session, path: Path = SEED_FILE, today: Optional[date] = None) -> int:
    """Insert the demo rows that are missing; returns how many rows were added."""
    today = today or date.today()
    data = yaml.safe_load(path.read_text())
    known = set(session.scalars(select(Policy.number)))
    added = 0
    for entry in data["customers"]:
        new_policies = [p for p in entry["policies"] if p["number"] not in known]
        if not new_policies:
            _fill_date_of_birth(session, entry)
            continue
        consent = entry.get("marketing_consent")  # e.g. {days_ago: 200, source: sign-up form}
        customer = Customer(
            full_name=entry["name"],
            email=entry["email"],
            phone=entry["phone"],
            address=entry["address"],
            date_of_birth=entry.get("date_of_birth"),
            marketing_consent_at=(
                datetime.combine(today - timedelta(days=consent["days_ago"]), time(9)) if consent else None
            ),
            marketing_consent_source=consent.get("source") if consent else None,
        )
        session.add(customer)
        for row in new_policies:
            session.add(_policy(customer, row, today))
            added += 1
    session.flush()
    known_claims = set(session.scalars(select(Claim.reference)))
    for row in data["claims"]:
        if row["reference"] in known_claims:
            continue
        policy = session.scalars(select(Policy).where(Policy.number == row["policy"])).one()
        session.add(
            Claim(
                reference=row["reference"],
                policy=policy,
                incident_type=row["incident_type"],
                incident_date=today - timedelta(days=row["incident_days_ago"]),
                description=row["description"],
                status=row["status"],
                status_detail=row["status_detail"],
            )
        )
        added += 1
    return added


if __name__ == "__main__":
    from storage.migrate import upgrade

    upgrade()
    with session_scope() as s:
        print(f"demo data: {seed(s)} rows added")

"""The words the content library, the judged set and the recommender share.

An item naming a product line, claim stage or incident type outside these lists is rejected at import: a typo
("renter", "adjuster") would otherwise make the item silently unreachable.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

CATEGORIES: Tuple[str, ...] = (
    "claim_checklist",  # what to gather and do for one kind of incident
    "claim_guide",  # what happens next at one claim stage
    "product_explainer",  # what a product or coverage does
    "safety_tip",  # seasonal and everyday loss prevention
    "billing_howto",  # renewal, payment, documents, changes
    "offer",  # discounts and products for sale: always marketing
)

PRODUCT_LINES: Tuple[str, ...] = ("auto", "home", "renters", "travel", "life")

# a claim's journey as customers live it; the claims table's status maps onto it (CLAIM_STATUS_STAGE)
CLAIM_STAGES: Tuple[str, ...] = (
    "reported",
    "adjuster_assigned",
    "documents_requested",
    "inspection",
    "estimate",
    "approved",
    "payment",
    "denied",
    "appeal",
    "closed",
)

CLAIM_STATUS_STAGE: Dict[str, str] = {
    "received": "reported",
    "under_review": "adjuster_assigned",
    "waiting_for_documents": "documents_requested",
    "approved": "approved",
    "denied": "denied",
    "closed": "closed",
}

# the claim form's incident types (actions/claims.py INCIDENT_LABELS) plus the ones only the library tells apart
INCIDENT_TYPES: Tuple[str, ...] = (
    "collision",
    "glass",
    "theft",
    "vandalism",
    "storm",  # wind and hail
    "flood",
    "fire",
    "water_damage",  # burst pipes, appliance leaks
    "injury",
    "breakdown",
    "lost_baggage",
    "travel_delay",
    "trip_cancellation",
    "travel_medical",
    "death",
)

LIFE_EVENTS: Tuple[str, ...] = (
    "moving",
    "buying_home",
    "first_apartment",
    "new_car",
    "teen_driver",
    "marriage",
    "new_baby",
    "retirement",
    "student",
    "renovation",
    "trip_planned",
)

# what a marketing item may sell: a product line, or an add-on / discount programme on one
OFFERABLE: Tuple[str, ...] = PRODUCT_LINES + (
    "drivewell",
    "rental_reimbursement",
    "rideshare",
    "flood",
    "home_security_discount",
    "good_student_discount",
)

# when the bot recommends (content_impressions.moment, the judged set's moments)
MOMENTS: Tuple[str, ...] = ("claim_filed", "quote_given", "answer_given", "greeting", "on_request")


def claim_stage_for_status(status: Optional[str]) -> Optional[str]:
    """The library's stage for a claims-table status, so a claim's checklist and guide can be found from the row."""
    return CLAIM_STATUS_STAGE.get(status or "")

"""Instagram Direct through the Messenger Platform: Messenger's webhook shape with object "instagram".

Instagram professional accounts linked to a Facebook Page receive DMs as Messenger-platform events
(sender = the customer's Instagram-scoped id) and reply with the Page access token through the same
`/me/messages` Send API, quick replies included. Only the payload's object and the channel name differ.
"""

from __future__ import annotations

from typing import Text

from bot.channels.facebook import FacebookInput, MessengerOutput


class InstagramOutput(MessengerOutput):
    @classmethod
    def name(cls) -> Text:
        return "instagram"


class InstagramInput(FacebookInput):
    """Instagram webhook: `https://<host>/webhooks/instagram/webhook` (same credentials as Messenger)."""

    output_class = InstagramOutput
    webhook_object = "instagram"

    @classmethod
    def name(cls) -> Text:
        return "instagram"

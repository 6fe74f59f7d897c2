"""Instagram Direct through the Messenger Platform: Messenger's webhook shape with object "instagram".

Instagram professional accounts linked to a Facebook Page receive DMs as Messenger-platform events
(sender = the customer's Instagram-scoped id) and reply with the Page access token through the same
`/me/messages` Send API, quick replies included. Only the payload's object and the channel name differ.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel

from bot.channels.facebook import MessengerOutput, messenger_inbound
from bot.channels.meta import DEFAULT_GRAPH_API, MetaWebhookInput
from bot.channels.webhooks import Inbound, json_object, required_credentials


class InstagramOutput(MessengerOutput):
    @classmethod
    def name(cls) -> Text:
        return "instagram"


class InstagramInput(MetaWebhookInput):
    """Instagram webhook: `https://<host>/webhooks/instagram/webhook`."""

    @classmethod
    def name(cls) -> Text:
        return "instagram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        required_credentials(cls.name(), credentials, ("verify", "secret", "page-access-token"))
        assert credentials is not None
        return cls(
            credentials["verify"],
            credentials["secret"],
            credentials["page-access-token"],
            credentials.get("api_url") or DEFAULT_GRAPH_API,
        )

    def __init__(
        self, verify_token: Text, app_secret: Text, page_access_token: Text, api_url: Text = DEFAULT_GRAPH_API
    ) -> None:
        super().__init__(verify_token, app_secret)
        self.output_channel = InstagramOutput(page_access_token, api_url)

    def read(self, body: bytes) -> List[Inbound]:
        return messenger_inbound(json_object(body), "instagram")

    def get_output_channel(self) -> OutputChannel:
        return self.output_channel

"""Switching the running Rasa server to another model archive: `PUT /model`, no restart.

Rasa loads the archive from its own file system (`{"model_file": <path>}`) and answers 204 once the new
agent serves; conversations keep their trackers. The token is Rasa's API token (RASA_API_TOKEN), sent as
Rasa's `token` parameter as the inbox does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import httpx

from learning.registry import RegistryError

LOAD_TIMEOUT_SECONDS = 300.0  # loading TensorFlow's policies and the torch NLU takes tens of seconds


class RasaModelLoader:
    def __init__(self, base_url: str, token: str, transport: Optional[httpx.BaseTransport] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.transport = transport

    def load(self, archive: Path) -> None:
        url = f"{self.base_url}/model"
        try:
            with httpx.Client(timeout=LOAD_TIMEOUT_SECONDS, transport=self.transport) as client:
                response = client.put(
                    url, params={"token": self.token}, json={"model_file": str(Path(archive).resolve())}
                )
        except httpx.HTTPError as error:
            raise RegistryError(
                f"the Rasa server at {self.base_url} could not be reached to load the model: {error}"
            ) from None
        if response.status_code != 204:
            raise RegistryError(
                f"the Rasa server refused to load {archive}: HTTP {response.status_code} {response.text[:300]}"
            )

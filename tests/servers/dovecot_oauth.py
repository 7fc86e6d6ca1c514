"""A Dovecot that accepts XOAUTH2/OAUTHBEARER, validating tokens by RFC 7662 introspection
against a (fake) authorisation server on 127.0.0.1; PLAIN/LOGIN still work."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.servers.dovecot import Dovecot

__all__ = ["OAuthDovecot"]


class OAuthDovecot(Dovecot):
    def __init__(self, root: Path, introspection_url: str) -> None:
        self._introspection_url = introspection_url
        super().__init__(root)

    def _write_layout(self) -> None:
        super()._write_layout()
        conf = self.root / "dovecot.conf"
        ext = self.root / "dovecot-oauth2.conf.ext"
        ext.write_text(
            f"introspection_mode = post\n"
            f"introspection_url = {self._introspection_url}\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        text = conf.read_text()
        text = text.replace(
            "auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2 oauthbearer"
        )
        text = text.replace(
            "passdb {\n",
            "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {ext}\n}}\n"
            "passdb {\n  mechanisms = plain login\n",
            1,
        )
        conf.write_text(text)

    @classmethod
    def start_with(cls, introspection_url: str) -> OAuthDovecot:
        root = Path(tempfile.mkdtemp(prefix="rw-dovecot-oauth-"))
        server = cls(root, introspection_url)
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

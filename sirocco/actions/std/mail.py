"""std.email: send one message over SMTP (STARTTLS and login when a password is given)."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from sirocco import errors
from sirocco.actions.std.standard import StandardAction

#: Seconds to wait on the SMTP server before giving up (Mistral waits forever).
SMTP_TIMEOUT_SECONDS = 60.0


class EmailAction(StandardAction):
    """Sends an email through an SMTP server (``host`` or ``host:port``); returns null."""

    names = ("std.email",)
    mistral_class = "SendEmailAction"
    side_effects = True
    # It acts on the world: it runs again only if its task says safe-rerun.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False

    def __init__(
        self,
        from_addr: str,
        to_addrs: Any,
        smtp_server: str,
        reply_to: Any = None,
        cc_addrs: Any = None,
        bcc_addrs: Any = None,
        smtp_password: str | None = None,
        subject: str | None = None,
        body: str | None = None,
        html_body: str | None = None,
    ) -> None:
        super().__init__()
        self.sender = from_addr
        self.to = _addresses(to_addrs)
        self.smtp_server = smtp_server
        self.reply_to = _addresses(reply_to)
        self.cc = _addresses(cc_addrs)
        self.bcc = _addresses(bcc_addrs)
        self.password = smtp_password
        self.subject = subject or "<No subject>"
        self.body = body or "<No body>"
        self.html_body = html_body

    def run(self, context: Any) -> None:
        message = self.message()
        recipients = self.cc + self.bcc + self.to
        try:
            with smtplib.SMTP(self.smtp_server, timeout=SMTP_TIMEOUT_SECONDS) as connection:
                if self.password is not None:
                    connection.ehlo()
                    connection.starttls()
                    connection.ehlo()
                    connection.login(self.sender, self.password)
                connection.sendmail(self.sender, recipients, message.as_string())
        except (smtplib.SMTPException, OSError) as error:
            raise errors.ActionError(f"Failed to send an email message: {error}") from error
        return None

    def message(self) -> MIMEText | MIMEMultipart:
        """The MIME message to send: plain text, or plain and HTML alternatives."""
        message: MIMEText | MIMEMultipart
        if self.html_body:
            message = MIMEMultipart("alternative")
            message.attach(MIMEText(self.body, "plain", _charset="utf-8"))
            message.attach(MIMEText(self.html_body, "html", _charset="utf-8"))
        else:
            message = MIMEText(self.body, _charset="utf-8")
        message["Subject"] = Header(self.subject, "utf-8")  # type: ignore[assignment]
        message["From"] = self.sender
        message["Reply-To"] = Header(", ".join(self.reply_to))  # type: ignore[assignment]
        message["To"] = ", ".join(self.to)
        if self.cc:
            message["cc"] = ", ".join(self.cc)
        return message


def _addresses(value: Any) -> list[str]:
    """A list of addresses; one address given as text counts as a list of one."""
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(address) for address in value]

"""Emails: plain text and HTML parts, sent through the configured SMTP server (none: not sent)."""

import logging
from email.message import EmailMessage

import aiosmtplib

from app.config import Settings

logger = logging.getLogger(__name__)


def message(sender: str, to: str, subject: str, plain: str, html: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    email.set_content(plain)
    email.add_alternative(html, subtype="html")
    return email


async def send(settings: Settings, email: EmailMessage) -> bool:
    """Send one email; False (logged, without the address) when no server is set or it fails."""
    if not settings.smtp_host:
        logger.info("no SMTP server configured: email %r not sent", email["Subject"])
        return False
    try:
        await aiosmtplib.send(
            email, hostname=settings.smtp_host, port=settings.smtp_port, timeout=30
        )
    except (aiosmtplib.SMTPException, OSError) as error:
        logger.warning("email %r not sent: %s", email["Subject"], type(error).__name__)
        return False
    return True

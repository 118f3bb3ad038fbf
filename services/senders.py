"""Delivering one rendered message: email over SMTP, SMS through an HTTP gateway.

Every sender tells apart two ways of going wrong, because the outbox treats them differently:
  Refused  — the gateway clearly did not take the message (an SMTP 4xx/5xx reply, an HTTP
             error status with a response, a connection that never opened): safe to retry.
  Unknown  — the call was cut off after the message may have left (a timeout, a dropped
             connection, a crash): retrying could send it twice, so staff check by hand.
"""
import json
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr

# The longest gateway answer kept in last_error.
_REPLY_CHARS = 300


class DeliveryError(Exception):
    """A message was not delivered; the text says why (kept as the row's last error)."""


class Refused(DeliveryError):
    """The gateway answered that it did not take the message."""


class Unknown(DeliveryError):
    """The call ended without a clear answer; the message may have been delivered."""


def smtp_configured(settings: Mapping) -> bool:
    """Return whether email can be sent (an SMTP host and a sender address are set)."""
    return bool(settings.get("SMTP_HOST") and settings.get("MAIL_FROM"))


def sms_configured(settings: Mapping) -> bool:
    """Return whether SMS can be sent (a gateway URL is set)."""
    return bool(settings.get("SMS_GATEWAY_URL"))


# ---- email ------------------------------------------------------------------------------------
def build_email(settings: Mapping, to: str, subject: str, body: str) -> EmailMessage:
    """Return the UTF-8 email for a message (the subject is RFC 2047-encoded when not ASCII)."""
    message = EmailMessage()
    name = settings.get("ASSOCIATION_NAME") or ""
    message["From"] = formataddr((name, settings["MAIL_FROM"])) if name else settings["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body, charset="utf-8")
    return message


def send_email(settings: Mapping, to: str, subject: str, body: str) -> None:
    """Send one email through the configured SMTP server; raise Refused or Unknown when it is not sent."""
    message = build_email(settings, to, subject, body)
    timeout = float(settings.get("SMTP_TIMEOUT") or 30)
    try:
        server = smtplib.SMTP(settings["SMTP_HOST"], int(settings.get("SMTP_PORT") or 25), timeout=timeout)
    except (OSError, smtplib.SMTPException) as err:
        raise Refused(f"SMTP connection failed: {err}") from err
    try:
        try:
            if settings.get("SMTP_STARTTLS"):
                server.starttls(context=ssl.create_default_context())
            if settings.get("SMTP_USER"):
                server.login(settings["SMTP_USER"], settings.get("SMTP_PASSWORD") or "")
        except smtplib.SMTPResponseException as err:
            raise Refused(f"SMTP {err.smtp_code}: {_text(err.smtp_error)}") from err
        except (OSError, smtplib.SMTPException) as err:
            # TLS or login failed: the message itself was not handed over yet.
            raise Refused(f"SMTP session failed before sending: {err}") from err
        try:
            server.send_message(message)
        except smtplib.SMTPRecipientsRefused as err:
            raise Refused(f"SMTP refused the recipient: {_smtp_replies(err.recipients)}") from err
        except smtplib.SMTPResponseException as err:
            raise Refused(f"SMTP {err.smtp_code}: {_text(err.smtp_error)}") from err
        except TimeoutError as err:
            raise Unknown(f"SMTP timed out after {timeout:g} s; the message may have been sent") from err
        except (OSError, smtplib.SMTPException) as err:
            raise Unknown(f"SMTP connection lost: {err}; the message may have been sent") from err
    except BaseException:
        # No polite QUIT after a failure: on a dead connection it would wait out the timeout again.
        server.close()
        raise
    try:
        server.quit()
    except (OSError, smtplib.SMTPException):
        server.close()


def _smtp_replies(recipients: dict) -> str:
    return "; ".join(f"{to}: {code} {_text(reply)}" for to, (code, reply) in recipients.items())


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:_REPLY_CHARS]


# ---- SMS --------------------------------------------------------------------------------------
def sms_recipient(settings: Mapping, mobile: str) -> str:
    """Return a stored E.164 mobile (+9665…) as the gateway wants it: '9665…' (default) or '+9665…'."""
    digits = mobile.lstrip("+")
    return f"+{digits}" if str(settings.get("SMS_RECIPIENT_FORMAT") or "9665").startswith("+") else digits


def sms_request(settings: Mapping, mobile: str, body: str) -> urllib.request.Request:
    """Build the gateway POST: form or JSON fields (names configurable) or a body template, and the auth header."""
    values = {"sender": settings.get("SMS_SENDER") or "", "recipient": sms_recipient(settings, mobile), "body": body}
    as_json = (settings.get("SMS_BODY_FORMAT") or "form").lower() == "json"
    template = settings.get("SMS_BODY_TEMPLATE")
    if template:
        # A gateway wanting extra fixed fields gets them from the template; the values are escaped for the format.
        if as_json:
            escaped = {k: json.dumps(v, ensure_ascii=False)[1:-1] for k, v in values.items()}
        else:
            escaped = {k: urllib.parse.quote_plus(v) for k, v in values.items()}
        data = template.format_map(escaped)
    else:
        fields = {settings.get("SMS_FIELD_SENDER") or "sender": values["sender"],
                  settings.get("SMS_FIELD_RECIPIENT") or "recipient": values["recipient"],
                  settings.get("SMS_FIELD_BODY") or "body": values["body"]}
        data = json.dumps(fields, ensure_ascii=False) if as_json else urllib.parse.urlencode(fields)
    headers = {"Content-Type": "application/json; charset=utf-8" if as_json
               else "application/x-www-form-urlencoded; charset=utf-8"}
    auth = settings.get("SMS_AUTH_HEADER") or ""
    if ":" in auth:
        name, value = auth.split(":", 1)
        headers[name.strip()] = value.strip()
    return urllib.request.Request(settings["SMS_GATEWAY_URL"], data=data.encode("utf-8"), headers=headers,
                                  method="POST")


def send_sms(settings: Mapping, mobile: str, body: str) -> None:
    """POST one SMS to the gateway; raise Refused on an error status, Unknown on a timeout or a cut-off answer."""
    try:
        req = sms_request(settings, mobile, body)
    except (KeyError, ValueError, IndexError) as err:
        # A mistyped SMS_BODY_TEMPLATE: nothing was sent, and the error names the bad placeholder.
        raise Refused(f"SMS_BODY_TEMPLATE is not valid: {err!r}") from err
    timeout = float(settings.get("SMS_TIMEOUT") or 15)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            response.read(_REPLY_CHARS)
    except urllib.error.HTTPError as err:
        raise Refused(f"SMS gateway HTTP {err.code}: {_text(err.read(_REPLY_CHARS))}") from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, (socket.timeout, TimeoutError)):
            raise Unknown(f"SMS gateway timed out after {timeout:g} s; the message may have been sent") from err
        # The connection never opened (refused, no route, bad name): nothing was sent.
        raise Refused(f"SMS gateway unreachable: {err.reason}") from err
    except TimeoutError as err:
        raise Unknown(f"SMS gateway timed out after {timeout:g} s; the message may have been sent") from err
    except OSError as err:
        raise Unknown(f"SMS gateway connection lost: {err}; the message may have been sent") from err

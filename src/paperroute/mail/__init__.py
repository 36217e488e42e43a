"""Mail: building messages (`messages`) and handing them to SMTP (`smtp`).

Sign-in links, subscription confirmations and digests all leave through this package; it sits
below `digest`, which decides what to send and records it in the delivery ledger
(`digest/delivery.py` over `store/deliveries.py`).
"""

from paperroute.mail.messages import (
    header,
    mail_domain,
    new_message,
    send_email,
    set_list_unsubscribe,
)
from paperroute.mail.smtp import MailError, PermanentMailError, TemporaryMailError

__all__ = [
    "MailError",
    "PermanentMailError",
    "TemporaryMailError",
    "header",
    "mail_domain",
    "new_message",
    "send_email",
    "set_list_unsubscribe",
]

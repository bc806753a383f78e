"""The live path: a Telethon user account watches channels; the same pipeline stores, matches,
folds stories and queues alerts; a sender delivers them to the analysts' chat exactly once."""

from .ingest import Ingest
from .sender import Sender
from .service import Service, run
from .session import NotLoggedIn, make_client, secure_session

__all__ = ["Ingest", "NotLoggedIn", "Sender", "Service", "make_client", "run", "secure_session"]

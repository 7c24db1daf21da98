"""Where the repository's files are, for tests that read them."""

import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: The day the example shelf was received, in tests that want its expired lot
#: (JV1X99, 2026-10-31) on the shelf: received in date, expired since.
RECEIVED_ON = datetime.date(2026, 10, 1)

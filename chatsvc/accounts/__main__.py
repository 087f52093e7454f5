"""C{python -m chatsvc.accounts}: see L{chatsvc.accounts.admin}."""

import sys

from chatsvc.accounts.admin import main

sys.exit(main())

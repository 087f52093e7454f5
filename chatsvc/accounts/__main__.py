"""C{python -m chatsvc.accounts}: see L{chatsvc.accounts.admin}."""

import sys

from chatsvc.accounts.admin import main

if __name__ == "__main__":
    sys.exit(main())

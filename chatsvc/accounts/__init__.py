"""Accounts: registered names with passwords, and messages kept for them while offline.

One job per module: L{kdf} hashes and checks passwords, L{store} keeps
accounts and offline messages in the history database (on its one thread),
L{throttle} bounds the work a guesser or a registration flood can cause,
and L{rules} is the hub's side (who may hold a registered name, logging in
and out, the offline queue).  See docs/user/accounts.rst.
"""

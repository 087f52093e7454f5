"""Running the server: C{twistd chat}'s options (L{chatsvc.service.tap}, also
from a TOML file, L{chatsvc.service.config}), the service tree with its
start, reload and stop (L{chatsvc.service.lifecycle}), TLS
(L{chatsvc.service.tls}) and systemd's notifications
(L{chatsvc.service.sdnotify}).
"""

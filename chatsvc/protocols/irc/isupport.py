"""What the IRC adapter tells clients it supports, and the limits it keeps.

One place for the version string, the mode letters of RPL_MYINFO, the
lengths (AWAYLEN, KICKLEN, ...) and the ISUPPORT tokens, so that what is
advertised and what is enforced cannot drift apart: the commands import
their limits from here.
"""

from __future__ import annotations

import chatsvc
from chatsvc.hub.modes import CHANMODES, MAX_MODE_ARGUMENTS, PREFIX
from chatsvc.hub.names import MAX_NAME_LENGTH, MAX_ROOM_NAME_LENGTH
from chatsvc.hub.rooms import MAX_KEY_LENGTH, MAX_LIST_ENTRIES, MAX_TOPIC_LENGTH
from chatsvc.hub.settings import Settings
from chatsvc.hub.users import BOT_MODE, MAX_AWAY_LENGTH
from chatsvc.hub.watch import MAX_WATCHED

VERSION = f"chatsvc-{chatsvc.__version__}"
USER_MODES = "Biow"
CHANNEL_MODES = "beIiklmnostv"
CHANNEL_MODES_WITH_ARGUMENT = "beIklov"
#: Longest away message (AWAYLEN): the hub's rule, for every protocol.
AWAY_LENGTH = MAX_AWAY_LENGTH
#: Longest kick reason (KICKLEN), also used for part and quit reasons.
KICK_LENGTH = 255
MAX_TARGETS = 4
USER_LENGTH = 10
REALNAME_LENGTH = 128
#: LIST filters by mask (M), by negated mask (N) and by member count (U).
ELIST = "MNU"
#: PRIVMSG/NOTICE @#chan reaches a channel's operators, +#chan its
#: operators and voiced members (STATUSMSG).
STATUSMSG = "@+"
#: User mode of a bot (IRCv3 bot mode, ISUPPORT BOT).
BOT = BOT_MODE
#: The most messages one CHATHISTORY answer holds (ISUPPORT CHATHISTORY).
CHATHISTORY_LIMIT = 100
#: The references CHATHISTORY takes, the preferred first (ISUPPORT MSGREFTYPES).
MSGREFTYPES = "msgid,timestamp"


def tokens(settings: Settings) -> list[str]:
    """The RPL_ISUPPORT (005) tokens, in the order they are sent."""
    return [
        f"AWAYLEN={AWAY_LENGTH}",
        f"BOT={BOT}",
        "CASEMAPPING=ascii",
        f"CHANLIMIT=#:{settings.max_rooms}",
        f"CHATHISTORY={CHATHISTORY_LIMIT}",
        f"CHANMODES={CHANMODES}",
        f"CHANNELLEN={MAX_ROOM_NAME_LENGTH + 1}",
        "CHANTYPES=#",
        f"ELIST={ELIST}",
        "EXCEPTS=e",
        "INVEX=I",
        f"KEYLEN={MAX_KEY_LENGTH}",
        f"KICKLEN={KICK_LENGTH}",
        f"MAXLIST=beI:{MAX_LIST_ENTRIES}",
        f"MAXTARGETS={MAX_TARGETS}",
        f"MODES={MAX_MODE_ARGUMENTS}",
        f"MONITOR={MAX_WATCHED}",
        f"MSGREFTYPES={MSGREFTYPES}",
        f"NETWORK={settings.server_name}",
        f"NICKLEN={MAX_NAME_LENGTH}",
        f"PREFIX={PREFIX}",
        f"STATUSMSG={STATUSMSG}",
        f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},JOIN:,PART:,NAMES:,KICK:4,"
        "WHOIS:1,ISON:,USERHOST:5",
        f"TOPICLEN={MAX_TOPIC_LENGTH}",
        f"USERLEN={USER_LENGTH}",
        # Every line we send is UTF-8; one a client sends that is not is
        # read as latin-1, with a WARN INVALID_UTF8.
        "UTF8ONLY",
        "WHOX",
    ]

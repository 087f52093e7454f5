"""The hub: users, rooms and the rules, and the only code that routes.

L{chatsvc.hub.factory.ChatFactory} owns the user map and the rooms, and
sends every event it emits through one L{chatsvc.hub.delivery.Delivery}; the
rest of this package holds the rules every protocol shares, one module
each: names, text, masks, modes, rooms, client addresses, refusals
(L{chatsvc.hub.errors}), settings and the record of names given up
(WHOWAS).  Nothing here knows a wire format.  The events the hub emits are
L{chatsvc.events}: the vocabulary the hub, every adapter and the client
side share.
"""

"""Seeds one torrent with libtorrent (python3-libtorrent) on 127.0.0.1 until terminated.

Usage: /usr/bin/python3 lt_seed.py <file.torrent> <save_path> <port> [upload bytes per second] [sessions]
With several sessions (a bench's crowd of seeders), session i listens on port + i, asks trackers for no peers
and runs no extension (no PEX): 200 seeders that learned of each other dialled each other (and dropped the link,
both being seeds) again and again, with the seed flag in the PEX that told them or without, and filled every
ephemeral port of 127.0.0.1 with TIME-WAIT sockets: leechers could not dial. Prints "ready" once every session
has the torrent. Loopback only: DHT, LSD, UPnP and NAT-PMP are off.
"""
import sys
import time

import libtorrent as lt

from lt_session import Terminated, loopback_session

torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
upload_limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
info = lt.torrent_info(torrent)
seeds = []
for i in range(count):
    session = loopback_session(port + i, upload_limit, plugins=count == 1)
    if count > 1:
        session.apply_settings({"num_want": 0})
    if upload_limit:
        # libtorrent exempts local peers from rate limits; put every address in the global class so the limit holds.
        peer_classes = lt.ip_filter()
        peer_classes.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        session.set_peer_class_filter(peer_classes)
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save_path
    params.flags |= lt.torrent_flags.seed_mode
    seeds.append((session, session.add_torrent(params)))
print("ready", flush=True)

Terminated().wait()
# Leave the swarm politely: removing the torrent announces "stopped", so the tracker forgets this seeder.
for session, handle in seeds:
    session.remove_torrent(handle)
time.sleep(0.5)

"""Seeds one torrent from N libtorrent sessions in one process (a bench's crowd of seeders), on 127.0.0.1.

Usage: /usr/bin/python3 lt_seeders.py <file.torrent> <save_path> <first_port> <count>
Session i listens on first_port + i. Prints "ready" once every session has the torrent. Runs until terminated.
"""
import signal
import sys
import time

import libtorrent as lt

sys.path.insert(0, sys.path[0] + "/../test/interop")
from lt_session import loopback_session  # noqa: E402

torrent, save_path, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
info = lt.torrent_info(torrent)
sessions = []
for i in range(count):
    session = loopback_session(first + i)
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save_path
    params.flags |= lt.torrent_flags.seed_mode
    session.add_torrent(params)
    sessions.append(session)
print("ready", flush=True)
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
while running:
    time.sleep(0.2)

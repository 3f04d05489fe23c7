"""Downloads one torrent with libtorrent (python3-libtorrent) on 127.0.0.1 and exits 0 once it is complete.

Usage: /usr/bin/python3 lt_download.py <file.torrent> <save_path> <port>
Loopback only: DHT, LSD, UPnP and NAT-PMP are off. The test that starts it stops it by PID if it hangs.
"""
import sys
import time

import libtorrent as lt

from lt_session import loopback_session

torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = loopback_session(port)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save_path
handle = session.add_torrent(params)
while not handle.status().is_seeding:
    time.sleep(0.1)
print("complete", flush=True)

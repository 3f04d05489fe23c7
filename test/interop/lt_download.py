"""Downloads one torrent with libtorrent (python3-libtorrent) on 127.0.0.1 and exits 0 once it is complete.

Usage: /usr/bin/python3 lt_download.py <file.torrent> <save_path> <port>
Loopback only: DHT, LSD, UPnP and NAT-PMP are off. The test that starts it stops it by PID if it hangs.
"""
import sys
import time

import libtorrent as lt

torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = lt.session({
    "listen_interfaces": f"127.0.0.1:{port}",
    "outgoing_interfaces": "127.0.0.1",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_incoming_utp": False,
    "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save_path
handle = session.add_torrent(params)
while not handle.status().is_seeding:
    time.sleep(0.1)
print("complete", flush=True)

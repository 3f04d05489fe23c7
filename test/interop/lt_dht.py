"""libtorrent with its DHT on, on 127.0.0.1 only, for the DHT interop tests.

Usage: /usr/bin/python3 lt_dht.py router <port>
       /usr/bin/python3 lt_dht.py seed <file.torrent> <save_path> <port> <bootstrap host:port>
       /usr/bin/python3 lt_dht.py get <infohash hex> <save_path> <port> <bootstrap host:port>
"router" is a DHT node that joins nothing (others join through it); "seed" seeds a torrent and announces it to
the DHT every few seconds; "get" downloads a magnet link with nothing but the infohash, prints "done" and exits 0
once every piece is in (exit 1 after 120 s). Prints "ready" once started. Loopback needs libtorrent's DHT checks
of routable addresses and node ids off (REAL-PEERS.md). Runs until terminated (router, seed).
"""
import sys
import time

import libtorrent as lt

from lt_session import Terminated, loopback_session

LOOPBACK_DHT = {
    "enable_dht": True,
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_ignore_dark_internet": False,
    "dht_prefer_verified_node_ids": False,
    "dht_enforce_node_id": False,
}

mode = sys.argv[1]
terminated = Terminated()

if mode == "router":
    session = loopback_session(int(sys.argv[2]))
    session.apply_settings({**LOOPBACK_DHT, "dht_bootstrap_nodes": ""})
    print("ready", flush=True)
    terminated.wait()
    sys.exit(0)

what, save_path, port, bootstrap = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
session = loopback_session(port)
session.apply_settings({**LOOPBACK_DHT, "dht_bootstrap_nodes": bootstrap})
params = lt.add_torrent_params()
params.save_path = save_path
if mode == "seed":
    params.ti = lt.torrent_info(what)
    params.flags |= lt.torrent_flags.seed_mode
else:
    params = lt.parse_magnet_uri(f"magnet:?xt=urn:btih:{what}")
    params.save_path = save_path
handle = session.add_torrent(params)
print("ready", flush=True)
started = time.time()
last_announce = 0.0
while not terminated.value:
    if time.time() - last_announce > 2:
        handle.force_dht_announce()
        last_announce = time.time()
    if mode == "get":
        status = handle.status()
        if status.is_seeding:
            print("done", flush=True)
            sys.exit(0)
        if time.time() - started > 120:
            print(f"timed out: {status.state} {status.progress:.2f} peers {status.num_peers}", flush=True)
            sys.exit(1)
    time.sleep(0.2)

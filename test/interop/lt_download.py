"""Downloads one torrent with libtorrent (python3-libtorrent) on 127.0.0.1 and exits 0 once it is complete.

Usage: /usr/bin/python3 lt_download.py <file.torrent | magnet link> <save_path> <port> [host:port to dial]
A magnet link's metadata comes from its x.pe peers. Once complete, a magnet download writes <save_path>/lt.torrent.
Loopback only: DHT, LSD, UPnP and NAT-PMP are off. The test that starts it stops it by PID if it hangs.
"""
import sys
import time

import libtorrent as lt

from lt_session import loopback_session

torrent, save_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = loopback_session(port)
magnet = torrent.startswith("magnet:")
if magnet:
    params = lt.parse_magnet_uri(torrent)
else:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
params.save_path = save_path
handle = session.add_torrent(params)
if magnet:
    for peer in params.peers:
        handle.connect_peer(peer)
if len(sys.argv) > 4:
    host, peer_port = sys.argv[4].rsplit(":", 1)
    handle.connect_peer((host, int(peer_port)))
while not handle.status().is_seeding:
    time.sleep(0.1)
if magnet:
    with open(f"{save_path}/lt.torrent", "wb") as out:
        out.write(lt.bencode(lt.create_torrent(handle.torrent_file()).generate()))
print("complete", flush=True)

"""Makes and checks torrents with libtorrent (python3-libtorrent), for the interop tests of torrent kinds.

Usage: /usr/bin/python3 lt_torrents.py make <path> <out.torrent> <piece_size> [v1]
         a torrent of <path> with libtorrent's default flags (hybrid v1+v2, with padding files), or v1 only
       /usr/bin/python3 lt_torrents.py check <file.torrent> <save_path>
         adds the torrent over existing data, lets libtorrent check it, prints "have N of M" pieces
No network: the session listens on 127.0.0.1 only, with DHT, LSD, UPnP and NAT-PMP off.
"""
import os
import sys
import time

import libtorrent as lt

from lt_session import loopback_session

command = sys.argv[1]
if command == "make":
    path, out, piece_size = sys.argv[2], sys.argv[3], int(sys.argv[4])
    flags = lt.create_torrent.v1_only if len(sys.argv) > 5 and sys.argv[5] == "v1" else 0
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, piece_size, flags=flags)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    print("made", flush=True)
elif command == "check":
    torrent, save_path = sys.argv[2], sys.argv[3]
    session = loopback_session(0)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save_path
    params.flags &= ~lt.torrent_flags.auto_managed
    params.flags &= ~lt.torrent_flags.paused
    handle = session.add_torrent(params)
    # Checking starts once the torrent is added; wait until it is over (a minute at most).
    started = time.time()
    checking = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
    while time.time() - started < 60 and (time.time() - started < 1 or handle.status().state in checking):
        time.sleep(0.1)
    status = handle.status()
    print(f"have {status.num_pieces} of {params.ti.num_pieces()}", flush=True)
else:
    sys.exit(f"unknown command {command}")

"""A libtorrent session for the interop tests: on 127.0.0.1 only, with DHT, LSD, UPnP, NAT-PMP and uTP off.

LT_TRANSPORT=utp makes it a uTP-only peer (TCP off both ways), LT_TRANSPORT=both speaks both.
"""
import os
import signal
import time

import libtorrent as lt


class Terminated:
    """True once SIGTERM or SIGINT arrived: the scripts run until then."""

    def __init__(self):
        self.value = False
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def stop(self, *_):
        self.value = True

    def wait(self):
        while not self.value:
            time.sleep(0.2)


def loopback_session(port, upload_limit=0, plugins=True):
    """A session on 127.0.0.1:port; without `plugins`, none of libtorrent's extensions (PEX, metadata, smart ban)."""
    settings = {
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
        "upload_rate_limit": upload_limit,
    }
    # LT_ENCRYPTION=forced: MSE with RC4 only, both ways (0 forced, 2 disabled; level 2 is RC4 only);
    # LT_ENCRYPTION=disabled: plaintext only.
    encryption = os.environ.get("LT_ENCRYPTION")
    if encryption == "forced":
        settings.update({"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2, "prefer_rc4": True})
    elif encryption == "disabled":
        settings.update({"out_enc_policy": 2, "in_enc_policy": 2})
    transport = os.environ.get("LT_TRANSPORT")
    if transport in ("utp", "both"):
        settings.update({"enable_incoming_utp": True, "enable_outgoing_utp": True})
    if transport == "utp":
        settings.update({"enable_incoming_tcp": False, "enable_outgoing_tcp": False})
    return lt.session(settings) if plugins else lt.session(settings, 0)

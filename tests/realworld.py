"""The published node dumps the parser and tracer are tested against, and a raw table real nodes add to them.

shared/realworld-dumps sits beside the repository (CI provides it the same way).
"""

from __future__ import annotations

from pathlib import Path

DUMPS = Path(__file__).resolve().parents[2] / "shared" / "realworld-dumps"

CALICO_RAW = (  # Calico's raw PREROUTING (firewalld writes the same rpfilter test), put before a dump in tests
    "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:cali-PREROUTING - [0:0]\n"
    '-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING\n'
    '-A cali-PREROUTING -m comment --comment "cali:XFX5xbM8B9qR10JG" -j MARK --set-xmark 0x0/0xf0000\n'
    '-A cali-PREROUTING -i cali+ -m comment --comment "cali:EWMPb0zVROM-woQp" -j MARK --set-xmark 0x40000/0x40000\n'
    '-A cali-PREROUTING -m comment --comment "cali:PWuxTAIaFCtsg5Qa" -m mark --mark 0x40000/0x40000 '
    "-m rpfilter --validmark --invert -j DROP\nCOMMIT\n"
)

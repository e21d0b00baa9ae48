"""Dot text -> SVG or PNG bytes through Graphviz (the ``dot`` program and the ``graphviz`` package).

Both are imported and looked up only when an image is asked for, so text
output works on machines without Graphviz; their absence is reported as a
missing environment (exit 3), with what to install.
"""

from __future__ import annotations

from kubeproxy_sim.errors import EnvironmentMissing, KubeproxySimError

IMAGE_FORMATS = ("svg", "png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_image(dot_text: str, fmt: str) -> bytes:
    """Lay out and draw the graph; ``fmt`` is ``svg`` or ``png``."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image format {fmt!r}; expected one of {IMAGE_FORMATS}")
    try:
        import graphviz
    except ImportError:
        raise EnvironmentMissing("the graphviz Python package is not installed; expected `pip install "
                                 "'graphviz>=0.20'` (or use --format dot|mermaid, which need nothing)") from None
    try:
        return graphviz.Source(dot_text).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise EnvironmentMissing("Graphviz's `dot` program is not on PATH; expected it installed "
                                 "(Debian/Ubuntu: apt-get install graphviz), or use --format dot|mermaid") from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise KubeproxySimError(f"Graphviz could not draw the graph: {detail[-1] if detail else exc}") from None

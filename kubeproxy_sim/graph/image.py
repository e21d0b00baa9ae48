"""Dot text -> SVG or PNG bytes through Graphviz (the ``dot`` program and the ``graphviz`` package).

Both are imported and looked up only when an image is asked for, so text
output works on machines without Graphviz; their absence is reported as a
missing environment (exit 3), with what to install.
"""

from __future__ import annotations

from kubeproxy_sim.errors import EnvironmentMissing, KubeproxySimError

IMAGE_FORMATS = ("svg", "png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


GRAPH_ALTERNATIVE = "use --format dot|mermaid"


def check_image_tools(instead: str = GRAPH_ALTERNATIVE) -> None:
    """Refuse before any work when an image cannot be drawn here; ``instead`` says what needs nothing."""
    import shutil

    try:
        import graphviz  # noqa: F401
    except ImportError:
        raise EnvironmentMissing("the graphviz Python package is not installed; expected `pip install "
                                 f"'graphviz>=0.20'` (or {instead}, which need nothing)") from None
    if shutil.which("dot") is None:
        raise EnvironmentMissing("Graphviz's `dot` program is not on PATH; expected it installed "
                                 f"(Debian/Ubuntu: apt-get install graphviz), or {instead}")


def render_image(dot_text: str, fmt: str, instead: str = GRAPH_ALTERNATIVE) -> bytes:
    """Lay out and draw the graph; ``fmt`` is ``svg`` or ``png``."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image format {fmt!r}; expected one of {IMAGE_FORMATS}")
    check_image_tools(instead)
    import graphviz

    try:
        return graphviz.Source(dot_text).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise EnvironmentMissing("Graphviz's `dot` program is not on PATH; expected it installed "
                                 f"(Debian/Ubuntu: apt-get install graphviz), or {instead}") from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise KubeproxySimError(f"Graphviz could not draw the graph: {detail[-1] if detail else exc}") from None

"""The join code as a QR code, for a home's manager to scan instead of copying the text."""

from __future__ import annotations

import io

import segno


def join_code_svg(join_code: str) -> str:
    """Return the join code as a standalone SVG document, black on white, sized by its viewBox.

    A code with the broker's CA certificate is dense (version 20 and more): low error
    correction keeps its modules as large as possible on a phone's screen.
    """
    qr = segno.make_qr(join_code, error="l", boost_error=False)
    out = io.BytesIO()
    qr.save(
        out, kind="svg", xmldecl=False, svgns=True, omitsize=True, nl=False,
        border=4, dark="#000", light="#fff", svgclass=None, lineclass=None,
    )  # fmt: skip
    return out.getvalue().decode()

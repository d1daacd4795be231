"""The legal record in the reference story: focal points and the signed copy.

A focal point at each party (the people are illustrative: the press release
names no one) and the signed copy of the MoU as a small PDF that the demo
writes itself, stored through the same services as the API, so that it
makes the same events and audit rows.
"""

from __future__ import annotations

import hashlib
import io

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts import service as contacts
from shared.contacts.schemas import ContactCreate, FocalPointIn, FocalPointsPut
from shared.documents import service as documents
from shared.documents.owners import Owner
from shared.documents.schemas import DocumentCreate
from shared.events import Actor, Aggregate
from shared.models import Agreement, Organization


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 showing ``lines`` in Helvetica, written by hand:
    five objects, a cross-reference table with their byte offsets, a trailer."""

    def escape(text: str) -> str:
        ascii_text = text.encode("ascii", "replace").decode("ascii")
        return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text_ops = ["BT", "/F1 12 Tf", "16 TL", "56 780 Td"]
    for line in lines:
        text_ops.append(f"({escape(line)}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010d} 00000 n \n".encode()
    pdf += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(pdf)


def _signed_copy(mou: Agreement) -> bytes:
    return minimal_pdf(
        [
            mou.title,
            f"Reference: {mou.reference}",
            f"Signed on {mou.signed_on} at {mou.signed_at}",
            "",
            *(f"{objective['ref']}. {objective['text']}" for objective in mou.objectives),
            "",
            "For the Special Technology Zones Authority: (signed)",
            "For the Great Wall Enterprise Institute: (signed)",
        ]
    )


async def load_records(
    session: AsyncSession,
    *,
    actor: Actor,
    mou: Agreement,
    stza: Organization,
    gei: Organization,
) -> str:
    """Add the focal points and the signed copy; returns what it added, in words."""
    stza_contact = await contacts.create_contact(
        session,
        actor=actor,
        organization_id=stza.id,
        payload=ContactCreate(
            name="Sana Malik",
            email="international.cooperation@stza.gov.pk",
            title="Director, International Cooperation",
            languages=["en", "ur"],
        ),
    )
    gei_contact = await contacts.create_contact(
        session,
        actor=actor,
        organization_id=gei.id,
        payload=ContactCreate(
            name="Zhang Wei",
            email="partnerships@gei.org.cn",
            title="Head of International Partnerships",
            languages=["zh-Hans", "en"],
        ),
    )
    await contacts.replace_focal_points(
        session,
        actor=actor,
        agreement_id=mou.id,
        payload=FocalPointsPut(
            focal_points=[
                FocalPointIn(contact_id=stza_contact.id, role="focal_point"),
                FocalPointIn(contact_id=gei_contact.id, role="focal_point"),
            ]
        ),
    )
    content = _signed_copy(mou)
    await documents.add_document(
        session,
        actor=actor,
        owner=Owner("agreement", mou.id, Aggregate("agreement", mou.id)),
        payload=DocumentCreate(
            owner_type="agreement",
            owner_id=mou.id,
            kind="signed_copy",
            title="MoU between STZA and GEI, signed copy",
            language="en",
            authentic=True,
        ),
        content=documents.ReceivedContent(
            file=io.BytesIO(content),
            filename="stza-gei-mou-signed.pdf",
            media_type="application/pdf",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        ),
    )
    return "a focal point at each party and the signed copy (PDF)"

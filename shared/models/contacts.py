"""People at the organizations, and the agreements that name them as focal points.

Contacts are personal data: the services keep them out of every log line.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, JSONDocument
from shared.models.mixins import VersionedResource


class Contact(VersionedResource, Base):
    """A person at an organization."""

    __tablename__ = "contacts"

    # RESTRICT: an organization with contacts answers 409 on delete (its
    # service names them); the database refuses should two requests race.
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    title: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    languages: Mapped[list[str]] = mapped_column(JSONDocument, nullable=False, default=list)


class FocalPoint(Base):
    """A contact named on an agreement in a role (one contact may hold several roles)."""

    __tablename__ = "agreement_focal_points"

    agreement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("contacts.id", ondelete="RESTRICT"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    # Keeps the focal points in the order the client gave them.
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_agreement_focal_points_contact_id", "contact_id"),)

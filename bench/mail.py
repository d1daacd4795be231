"""Email benchmark: notifications sent per second by one `accords worker` process.

    python -m bench.mail [--emails 2000]

``--emails`` pending notifications (one contact each) are written to the
database, an SMTP server (aiosmtpd) listens on 127.0.0.1 in a process of its
own, and one ``accords worker`` process starts with ``ACCORDS_SMTP_URL``
pointing at it. Emails per second are counted from the first accepted message
to the last. Uses the local PostgreSQL (database ``accords_bench_mail``,
recreated and dropped) and RabbitMQ (a private virtual host). Target (SPEC 15):
>= 50 emails/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.webhooks import ADMIN_URL, rabbitmqctl  # noqa: E402
from shared.db import create_engine, create_sessionmaker, utcnow  # noqa: E402
from shared.ids import uuid7  # noqa: E402
from shared.migrate import upgrade_async  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.live import accords_env, free_port, running  # noqa: E402

DATABASE = "accords_bench_mail"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"


async def recreate_database(drop_only: bool = False) -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if not drop_only:
            await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()
    if not drop_only:
        await upgrade_async(DATABASE_URL)


async def seed(count: int) -> None:
    """One organization, ``count`` contacts and one pending notification each."""
    from shared.models import Contact, Notification, Organization

    engine = create_engine(Settings(database_url=DATABASE_URL))
    try:
        async with create_sessionmaker(engine)() as session:
            organization = Organization(name="STZA", kind="government_agency", country="PK")
            session.add(organization)
            await session.flush()
            now = utcnow()
            for number in range(count):
                contact = Contact(
                    organization_id=organization.id,
                    name=f"Person {number}",
                    email=f"person{number}@stza.example.gov",
                    languages=["en"],
                )
                session.add(contact)
                await session.flush()
                session.add(
                    Notification(
                        id=uuid7(),
                        event_id=uuid.uuid4(),
                        event_type="milestone.overdue",
                        contact_id=contact.id,
                        scope="all",
                        delivery="immediate",
                        subject=f"Milestone overdue: workshop {number}",
                        notice={
                            "subject": f"Milestone overdue: workshop {number}",
                            "headline": "The milestone 'Workshop' was due and is not done.",
                            "details": ["It is 3 days overdue."],
                            "due_on": "2026-11-28",
                            "link": "http://127.0.0.1:8000/app/",
                        },
                        status="pending",
                        send_after=now,
                        attempts=0,
                        created_at=now,
                    )
                )
            await session.commit()
    finally:
        await engine.dispose()


def _serve_smtp(port: int, received: multiprocessing.Value) -> None:  # type: ignore[type-arg]
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=2000)
    args = parser.parse_args()
    vhost = f"accords-bench-mail-{uuid.uuid4().hex[:8]}"
    asyncio.run(recreate_database())
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    port = free_port()
    received = multiprocessing.Value("i", 0)
    smtp = multiprocessing.Process(target=_serve_smtp, args=(port, received), daemon=True)
    smtp.start()
    try:
        asyncio.run(seed(args.emails))
        env = accords_env(
            database_url=DATABASE_URL,
            broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
            smtp_url=f"smtp://127.0.0.1:{port}",
            secret_key="bench-mail-" + uuid.uuid4().hex,
            sweep_interval_seconds="3600",
        )
        with running(["worker", "--processes", "1", "--threads", "2"], env):
            deadline = time.monotonic() + 300
            while received.value < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            first = time.perf_counter()
            while received.value < args.emails and time.monotonic() < deadline:
                time.sleep(0.01)
            elapsed = time.perf_counter() - first
        sent = received.value
        print(f"mail: {sent} emails; {(sent - 1) / elapsed:.0f} emails/s from one worker process")
    finally:
        smtp.terminate()
        rabbitmqctl("delete_vhost", vhost)
        asyncio.run(recreate_database(drop_only=True))


if __name__ == "__main__":
    main()

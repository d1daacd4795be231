"""The `accords` command line."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared.settings import Settings

app = typer.Typer(
    help="Accords: the system of record for international cooperation agreements.",
    no_args_is_help=True,
)
api_keys_app = typer.Typer(help="Manage api keys.", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")
dead_letters_app = typer.Typer(
    help="Inspect and replay events that failed every retry.", no_args_is_help=True
)
app.add_typer(dead_letters_app, name="dead-letters")
iati_app = typer.Typer(help="IATI 2.03 documents.", no_args_is_help=True)
app.add_typer(iati_app, name="iati")
console = Console(stderr=True)

DEV_DEFAULTS = {
    "ACCORDS_DATABASE_URL": "sqlite+aiosqlite:///var/accords.db",
    "ACCORDS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "ACCORDS_LOG_FORMAT": "console",
    "ACCORDS_ENVIRONMENT": "development",
}
DEV_KEY_FILE = Path("var/dev-admin-key")


def _apply_defaults(defaults: dict[str, str]) -> Settings:
    """A command's defaults apply only where the environment says nothing."""
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    return Settings()


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    from shared.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    console.print("[green]database schema is up to date[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
) -> None:
    """Run the production API server (uvicorn). Run `accords migrate` first."""
    from services.api import forked_workers
    from shared.logging import configure_logging

    # The supervisor's own lines (binding, workers started and restarted) in
    # the workers' format.
    settings = Settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    # The app imported once here; each worker forked from it and listening
    # on a socket of its own (see the module).
    forked_workers.run(
        "services.api.app:create_server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,
        log_config=None,
    )


@app.command()
def dev(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Run everything in one process on the embedded SQLite database."""
    import uvicorn

    from services.api.app import create_app
    from shared.migrate import upgrade

    settings = _apply_defaults(DEV_DEFAULTS)
    upgrade(settings.database_url)
    key = settings.bootstrap_api_key or _dev_admin_key(settings)
    console.rule("[bold]Accords (development)")
    console.print(f"API      http://{host}:{port}   docs: http://{host}:{port}/docs")
    console.print(f"Database {settings.database_url}")
    console.print(f"Mail     {_mail_line(settings)}")
    console.print(f"Admin key (keep it; stored in {DEV_KEY_FILE}):")
    print(key, flush=True)
    # The worker runs in this process: actors on worker threads, relay and sweep.
    pipeline = _in_process_worker(settings)
    try:
        after_commit = getattr(pipeline, "after_commit", None)
        uvicorn.run(
            create_app(settings, after_commit=after_commit, long_running=True),
            host=host,
            port=port,
            access_log=False,
            log_config=None,
        )
    finally:
        pipeline.stop()


def _mail_line(settings: Settings) -> str:
    """Where reminder emails go, without credentials."""
    if not settings.smtp_url:
        return "held (set ACCORDS_SMTP_URL to send; held mail is sent once it is set)"
    from urllib.parse import urlsplit

    parts = urlsplit(settings.smtp_url)
    return (
        f"sent through {parts.scheme}://{parts.hostname}:{parts.port or ''} as {settings.mail_from}"
    )


def _in_process_worker(settings: Settings):  # type: ignore[no-untyped-def]
    """The embedded pipeline, or worker threads on ACCORDS_BROKER_URL when one is set."""
    if not settings.broker_url:
        from services.worker.embedded import EmbeddedPipeline

        pipeline = EmbeddedPipeline(settings)
        pipeline.start()
        return pipeline
    from dramatiq import Worker

    from services.worker.main import build_worker_broker

    worker = Worker(build_worker_broker(settings), worker_threads=4)
    worker.start()
    return worker


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    threads: Annotated[int, typer.Option(help="Worker threads per process.")] = 8,
) -> None:
    """Run the event pipeline: consume the outbox, compute rollups, relay, sweep.

    Uses ACCORDS_BROKER_URL (amqp:// or redis://); several can run at once.
    """
    from services.worker.main import run

    settings = Settings()
    if not settings.broker_url:
        console.print(
            "[yellow]ACCORDS_BROKER_URL is empty: a separate worker needs RabbitMQ or Redis "
            "(`accords dev` runs the pipeline in-process)[/yellow]"
        )
        raise typer.Exit(2)
    raise typer.Exit(run(settings, processes=processes, threads=threads))


def _dev_admin_key(settings: Settings) -> str:
    """Reuse the development admin key kept under var/, or issue one."""
    from shared.security import generate_api_key

    key = DEV_KEY_FILE.read_text().strip() if DEV_KEY_FILE.exists() else ""
    key = key or generate_api_key()
    asyncio.run(_ensure_admin_key(settings, key, name="accords dev admin"))
    DEV_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEV_KEY_FILE.write_text(key + "\n")
    DEV_KEY_FILE.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return key


async def _ensure_admin_key(settings: Settings, key: str, *, name: str) -> None:
    from shared.api_keys.service import ensure_api_key
    from shared.db import create_engine, create_sessionmaker

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            await ensure_api_key(session, key=key, name=name)
            await session.commit()
    finally:
        await engine.dispose()


@api_keys_app.command("create")
def create_api_key(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[
        list[str], typer.Option(help="read, write, webhooks or admin; repeat for several.")
    ],
    organization: Annotated[
        str | None, typer.Option(help="Bind the key to this organization id.")
    ] = None,
) -> None:
    """Issue an api key; the key alone is printed on the last line."""
    from shared.security import SCOPES

    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        console.print(f"[red]unknown scope(s): {', '.join(unknown)}[/red]")
        raise typer.Exit(2)
    organization_id = None
    if organization:
        try:
            organization_id = uuid.UUID(organization)
        except ValueError:
            console.print("[red]--organization must be an organization id (UUID)[/red]")
            raise typer.Exit(2) from None
    key = asyncio.run(_create_api_key(Settings(), name, scope, organization_id))
    console.print(f"Created api key '{name}' with scopes {', '.join(sorted(set(scope)))}.")
    print(key, flush=True)


async def _create_api_key(
    settings: Settings, name: str, scopes: list[str], organization_id: uuid.UUID | None
) -> str:
    from shared.api_keys.service import create_api_key as create
    from shared.db import create_engine, create_sessionmaker
    from shared.errors import DomainError
    from shared.events import Actor

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            try:
                _, key = await create(
                    session,
                    actor=Actor.system(),
                    name=name,
                    scopes=scopes,
                    organization_id=organization_id,
                )
            except DomainError as exc:
                console.print(f"[red]{exc.detail}[/red]")
                raise typer.Exit(2) from None
            await session.commit()
            return key
    finally:
        await engine.dispose()


@dead_letters_app.command("list")
def list_dead_letters(
    all_: Annotated[bool, typer.Option("--all", help="Include replayed ones.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Dead letters, newest first: when, which event, and the error it last raised."""
    from rich.table import Table

    from services.worker.dead_letters import list_dead_letters as listing

    letters = asyncio.run(_with_session(Settings(), listing, include_replayed=all_, limit=limit))
    if not letters:
        console.print("No dead letters.")
        return
    table = Table("id", "failed at", "event", "retries", "error", "replayed at")
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.failed_at.isoformat(timespec="seconds"),
            f"{letter.event_type or letter.actor_name} {letter.event_id or ''}".strip(),
            str(letter.retries),
            letter.reason,
            letter.replayed_at.isoformat(timespec="seconds") if letter.replayed_at else "",
        )
    Console(width=200).print(table)


@dead_letters_app.command("replay")
def replay_dead_letters(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead letter ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every one not replayed yet.")] = False,
) -> None:
    """Give the events of dead letters to the pipeline again (a running worker sends them)."""
    from services.worker.dead_letters import replay_dead_letters as replay

    if bool(ids) == all_:
        console.print("[red]name dead letter ids, or pass --all[/red]")
        raise typer.Exit(2)
    letter_ids = None
    if ids:
        try:
            letter_ids = [uuid.UUID(value) for value in ids]
        except ValueError:
            console.print("[red]dead letter ids are UUIDs (see `accords dead-letters list`)[/red]")
            raise typer.Exit(2) from None
    result = asyncio.run(_with_session(Settings(), replay, letter_ids, commit=True))
    for letter_id, reason in sorted(result.refused.items()):
        console.print(f"[yellow]{letter_id}: not replayed, {reason}[/yellow]")
    console.print(f"Replayed {len(result.replayed)} dead letter(s).")
    if result.refused:
        raise typer.Exit(1)


async def _with_session(settings: Settings, work, *args, commit: bool = False, **kwargs):  # type: ignore[no-untyped-def]
    """Run ``work(session, ...)`` in one transaction of a short-lived engine."""
    from shared.db import create_engine, create_sessionmaker

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await work(session, *args, **kwargs)
            if commit:
                await session.commit()
            return result
    finally:
        await engine.dispose()


@iati_app.command("validate")
def validate_iati(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The XML file.")
    ],
) -> None:
    """Check an IATI activities file against the official 2.03 schema and the
    ruleset checks the schema cannot make; exit 1 listing each problem."""
    from shared.iati.validation import validate

    issues = validate(file)
    for issue in issues:
        typer.echo(str(issue))
    if issues:
        console.print(f"[red]{file}: {len(issues)} problem(s)[/red]")
        raise typer.Exit(1)
    console.print(f"[green]{file}: valid IATI 2.03[/green]")


@app.command()
def demo() -> None:
    """Load the reference story: STZA and GEI, their MoU and what carries it out."""
    from services.demo import load_demo

    settings = Settings()
    summary = asyncio.run(load_demo(settings))
    console.print(summary)


if __name__ == "__main__":
    app()

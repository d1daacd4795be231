"""Routes of `/v1/api-keys` (admin only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from services.api.deps import Admin, SessionDep
from services.api.http import CursorQuery, LimitQuery, Page, decode_cursor, paginate
from services.api.problems import problem_responses
from shared.api_keys import service
from shared.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, principal: Admin, response: Response
) -> ApiKeyCreated:
    """Issue an api key. The response holds the key itself, shown this once only.

    Scopes: `read`, `write` (includes read), `webhooks` (manage webhook
    endpoints), `admin` (everything, plus api keys and the audit log). A key
    bound to an organization sees only that organization's agreements.
    """
    api_key, clear = await service.create_api_key(
        session,
        actor=principal.actor,
        name=body.name,
        scopes=body.scopes,
        organization_id=body.organization_id,
    )
    response.headers["Location"] = f"/v1/api-keys/{api_key.id}"
    public = ApiKeyPublic.model_validate(api_key)
    return ApiKeyCreated(**public.model_dump(), key=clear)


@router.get("", responses=problem_responses(400, 401, 403, 422))
async def list_api_keys(
    session: SessionDep, principal: Admin, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[ApiKeyPublic]:
    """List api keys (never their values)."""
    rows = await service.list_api_keys(session, after=decode_cursor(cursor), limit=limit)
    return paginate(rows, limit, ApiKeyPublic)


@router.delete(
    "/{api_key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_api_key(
    api_key_id: uuid.UUID, session: SessionDep, principal: Admin, request: Request
) -> None:
    """Revoke an api key; it stops working on the next request. No `If-Match` needed."""
    await service.delete_api_key(session, actor=principal.actor, api_key_id=api_key_id)
    # This process forgets at once; the others when the database notifies them
    # of the commit (services.api.api_keys.cache).
    cache = getattr(request.app.state, "api_key_cache", None)
    if cache is not None:
        cache.forget_all()

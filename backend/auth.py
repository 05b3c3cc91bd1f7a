"""Sign-in: SIWE nonce -> verified message -> short-lived JWT plus a rotating refresh token."""

import hashlib
import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, update

from backend import siwe
from backend.errors import error_responses
from backend.models import AuthNonce, RefreshToken
from backend.params import reject_unknown_query
from backend.services import Services, get_services
from backend.wire import NonceOut, RefreshIn, TokenPair, VerifyIn

ALGORITHM = "HS256"
ISSUER = "harmonie-backend"

router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(reject_unknown_query)])
bearer = HTTPBearer(auto_error=False, description="access token from POST /auth/verify")


class TokenError(Exception):
    pass


def issue_access_token(services: Services, address: str, now: datetime) -> str:
    claims = {
        "sub": address,
        "iss": ISSUER,
        "typ": "access",
        "jti": secrets.token_hex(8),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + services.config.access_token_ttl_s,
    }
    return jwt.encode(claims, services.jwt_secret, algorithm=ALGORITHM)


def decode_access_token(services: Services, token: str) -> str:
    """The address a valid, unexpired access token was issued to; TokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            services.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("the access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("the access token is not valid") from exc
    address = claims.get("sub")
    if claims.get("typ") != "access" or not isinstance(address, str):
        raise TokenError("the access token is not valid")
    return address


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_address(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("sign in first: Authorization: Bearer <access token>")
    try:
        return decode_access_token(get_services(request), credentials.credentials)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from exc


CurrentAddress = Annotated[str, Depends(current_address)]
ServicesDep = Annotated[Services, Depends(get_services)]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _token_pair(services: Services, address: str, now: datetime) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    async with services.sessions.begin() as session:
        session.add(
            RefreshToken(
                token_hash=_hash(refresh),
                address=address,
                expires_at=now + timedelta(seconds=services.config.refresh_token_ttl_s),
            )
        )
    return TokenPair(
        address=address,
        access_token=issue_access_token(services, address, now),
        expires_in=services.config.access_token_ttl_s,
        refresh_token=refresh,
    )


async def limit_by_client(request: Request) -> None:
    """Per client IP, shared across instances when Redis is configured."""
    client = request.client.host if request.client else "unknown"
    if not await get_services(request).auth_limiter.allow(f"auth:{client}"):
        raise HTTPException(429, detail="too many sign-in attempts; wait a little")


RateLimited = Depends(limit_by_client)


@router.get(
    "/nonce",
    summary="A fresh single-use nonce for a SIWE message",
    responses=error_responses(429),
    dependencies=[RateLimited],
)
async def nonce(services: ServicesDep) -> NonceOut:
    now = datetime.now(UTC)
    value = secrets.token_hex(16)
    expires_at = now + timedelta(seconds=services.config.nonce_ttl_s)
    async with services.sessions.begin() as session:
        if random.random() < 0.05:  # now and then, forget long-expired nonces
            await session.execute(delete(AuthNonce).where(AuthNonce.expires_at < now))
        session.add(AuthNonce(nonce=value, expires_at=expires_at))
    return NonceOut(nonce=value, expires_at=expires_at)


@router.post(
    "/verify",
    summary="Exchange a signed SIWE message for tokens",
    responses=error_responses(401, 429),
    dependencies=[RateLimited],
)
async def verify(body: VerifyIn, services: ServicesDep) -> TokenPair:
    now = datetime.now(UTC)
    config = services.config
    try:
        message = siwe.verify(
            body.message,
            body.signature,
            domains=config.allowed_siwe_domains(),
            chain_ids=config.chain_ids,
            now=now,
            max_age=timedelta(seconds=config.nonce_ttl_s),
        )
    except siwe.SiweError as exc:
        raise _unauthorized(f"sign-in refused ({exc.code}): {exc}") from exc
    async with services.sessions.begin() as session:
        used = await session.execute(
            update(AuthNonce)
            .where(
                AuthNonce.nonce == message.nonce,
                AuthNonce.used_at.is_(None),
                AuthNonce.expires_at > now,
            )
            .values(used_at=now)
        )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise _unauthorized("sign-in refused (nonce): the nonce is unknown, used or expired")
    return await _token_pair(services, message.address, now)


@router.post(
    "/refresh",
    summary="Trade a refresh token (once) for a new token pair",
    responses=error_responses(401, 429),
    dependencies=[RateLimited],
)
async def refresh(body: RefreshIn, services: ServicesDep) -> TokenPair:
    now = datetime.now(UTC)
    token_hash = _hash(body.refresh_token)
    problem: str | None = None
    async with services.sessions.begin() as session:
        row = await session.get(RefreshToken, token_hash, with_for_update=True)
        if row is None or row.expires_at <= now:
            problem = "the refresh token is unknown or expired; sign in again"
        elif row.used_at is not None:
            # A rotated token came back: someone holds a copy. End every session of the address.
            await session.execute(delete(RefreshToken).where(RefreshToken.address == row.address))
            problem = "the refresh token was already used; sign in again"
        else:
            claimed = await session.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                problem = "the refresh token was already used; sign in again"
    if problem is not None or row is None:
        raise _unauthorized(problem or "sign in again")
    address = row.address
    return await _token_pair(services, address, now)


@router.get(
    "/me", summary="The address the access token belongs to", responses=error_responses(401)
)
async def me(address: CurrentAddress) -> dict[str, str]:
    return {"address": address}

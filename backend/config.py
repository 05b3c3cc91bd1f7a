"""Backend configuration, from the command line or the embedding studio."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BackendConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///harmonie-backend.db"
    redis_url: str | None = None
    data_dir: Path = Path(".")

"""Sitrep's settings: one typed object, defaults in ``config/settings.toml``, ``SITREP_*`` overrides."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from digests.errors import ConfigError, explain_invalid

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\.?$")
_REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


def config_dir() -> Path:
    """Return the folder holding settings.toml, sources.toml, topics.toml and samples/."""
    configured = os.environ.get("SITREP_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    if _REPO_CONFIG.is_dir():
        return _REPO_CONFIG
    return Path.cwd() / "config"


class Group(BaseModel):
    """A group of settings: a key it does not know is an error (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid")


def cache_home() -> Path:
    """Return Sitrep's cache folder: ``$XDG_CACHE_HOME/sitrep`` (``~/.cache/sitrep`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sitrep"


class FetchSettings(Group):
    """How Sitrep behaves on the network."""

    connect_timeout: float = Field(default=10.0, gt=0, le=600)
    total_timeout: float = Field(default=30.0, gt=0, le=3600)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_concurrent: int = Field(default=16, ge=1, le=1000)
    max_per_host: int = Field(default=2, ge=1, le=100)
    user_agent: str = "Sitrep/0.1 (news briefing bot)"
    # Refuse loopback and private addresses unless a deployment opts in: for all of them, or for some networks
    # ("10.0.0.0/8") and host names ("feeds.internal", which also allows its subdomains). Link-local and cloud
    # metadata addresses are refused whatever is set here.
    allow_private_addresses: bool = False
    allowed_private: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("allowed_private")
    @classmethod
    def _networks_or_names(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                if not _HOST_NAME.match(entry.strip()):
                    raise ValueError(f"{entry!r} is neither a network (10.0.0.0/8) nor a host name") from None
        return [entry.strip() for entry in entries]


class CollectSettings(Group):
    """How sources are polled and articles read."""

    sources_file: str = "sources.toml"
    default_interval_minutes: float = Field(default=30.0, gt=0)
    max_backoff_minutes: float = Field(default=24 * 60.0, gt=0)
    max_failures: int = Field(default=8, ge=1)
    fetch_full_text: bool = True
    # A teaser's page that fails to load is asked for again on later collections, this many times in all,
    # full_text_retry_minutes apart (doubling); at most so many pages a source, and a collection, fetch at once.
    full_text_attempts: int = Field(default=5, ge=1)
    full_text_retry_minutes: float = Field(default=15.0, ge=0)
    max_page_fetches_per_source: int = Field(default=50, ge=0)
    max_page_fetches_per_cycle: int = Field(default=200, ge=0)
    teaser_chars: int = Field(default=600, ge=0)
    max_file_bytes: int = Field(default=5_000_000, ge=1024)
    max_concurrent_sources: int = Field(default=8, ge=1, le=1000)
    # A process polling a source holds it this long; if the process dies, another polls it afterwards.
    claim_minutes: float = Field(default=10.0, gt=0)
    # How often `sitrep run` looks for due sources (and, with the enrich role alone, for work to enrich).
    check_seconds: float = Field(default=60.0, gt=0)


class SectionSettings(Group):
    """How articles are split into sections."""

    headings: list[str] = Field(
        default_factory=lambda: [
            "What's Happening?",
            "Why It's Important?",
            "What's Next?",
            "Beyond the Headlines",
        ]
    )
    max_heading_words: int = Field(default=10, ge=1)
    target_chars: int = Field(default=1200, ge=100)
    max_chars: int = Field(default=4000, ge=200)
    boilerplate: list[str] = Field(default_factory=list)


class SummarizeSettings(Group):
    """Which summarizer runs and how."""

    backend: Literal["extractive", "abstractive"] = "extractive"
    # A sentence encoder by Hugging Face name or local path; empty means the bundled all-MiniLM-L6-v2.
    encoder: str = ""
    # The abstractive model: a Hugging Face name or a local folder (seq2seq, or a causal LM with a prompt).
    model: str = "sshleifer/distilbart-cnn-12-6"
    model_kind: Literal["auto", "seq2seq", "causal"] = "auto"
    gguf_file: str = ""
    prompt: str = "Summarize the following news text in one or two sentences, using only facts it states.\n\n{text}"
    max_new_tokens: int = Field(default=96, ge=8, le=512)
    num_beams: int = Field(default=2, ge=1, le=8)
    max_input_tokens: int = Field(default=512, ge=32)
    batch_size: int = Field(default=16, ge=1)
    section_sentences: int = Field(default=2, ge=1, le=5)
    # A section summary is whole sentences within this many characters (a Discord embed field holds 1,024).
    max_chars: int = Field(default=1024, ge=80)
    article_sentences: int = Field(default=3, ge=1, le=10)
    device: str = "auto"
    # Run the sentence encoder's linear layers in int8 (dynamic quantization, CPU only).
    encoder_int8: bool = True
    # ONNX Runtime (exported once, cached in model_cache; PyTorch is not imported for it) or PyTorch. A GPU
    # device, or a model that cannot be exported, runs on PyTorch.
    encoder_runtime: Literal["onnx", "torch"] = "onnx"
    # Where exported encoders are kept; empty means $XDG_CACHE_HOME/sitrep/models (~/.cache by default).
    model_cache: str = ""
    # Sentences per encoder forward pass: small batches of similar length pad little.
    encoder_batch_size: int = Field(default=16, ge=1, le=512)
    # Keep this many recent sentence vectors, so that each sentence is encoded once for summary and tags.
    embedding_cache: int = Field(default=20000, ge=0)
    # Never reach the model hub; also implied by HF_HUB_OFFLINE=1.
    offline: bool = False


class TranslateSettings(Group):
    """Translation of non-English articles' titles and summaries into English (off by default)."""

    enabled: bool = False
    # A seq2seq translation model by Hugging Face name or local folder: MarianMT (opus-mt-*) or NLLB.
    model: str = "Helsinki-NLP/opus-mt-mul-en"
    # NLLB-style models need the target language token ("eng_Latn"); MarianMT models do not.
    target_token: str = ""
    # Languages (ISO 639-1) to translate; empty means every language but English.
    languages: list[str] = Field(default_factory=list)
    max_chars: int = Field(default=1500, ge=40)
    max_input_tokens: int = Field(default=512, ge=16)
    max_new_tokens: int = Field(default=256, ge=8, le=1024)
    batch_size: int = Field(default=8, ge=1)
    device: str = "auto"
    offline: bool = False


class TaggingSettings(Group):
    """How countries and topics are assigned."""

    topics_file: str = "topics.toml"
    max_topics: int = Field(default=3, ge=0, le=10)
    # An article's best topic is kept from this score on; its other topics need topic_threshold.
    first_topic_threshold: float = Field(default=0.22, ge=0, le=1)
    topic_threshold: float = Field(default=0.35, ge=0, le=1)
    max_countries: int = Field(default=8, ge=1)


class StorySettings(Group):
    """How articles about one event are grouped into stories."""

    # A story takes new members until it has had none for this long (it "goes quiet").
    quiet_hours: float = Field(default=72.0, gt=0)
    # Members whose title-and-lead embeddings are at least this close to an article are scored as its match.
    min_cosine: float = Field(default=0.45, ge=0, le=1)
    # Articles this close are one event whatever their titles (copies, lightly edited rewrites).
    same_cosine: float = Field(default=0.9, ge=0, le=1)
    # An article joins the story with which it pairs best, when that pair's probability of being one event
    # (the learned pair scorer's) is at least this...
    join_probability: float = Field(default=0.3, ge=0, le=1)
    # ...and its mean probability over the story's latest members at least this (no drift by chaining).
    join_mean: float = Field(default=0.05, ge=0, le=1)
    # The story's latest this-many members are the ones it is compared through.
    linkage_members: int = Field(default=8, ge=1)
    # Two open stories an article pairs with at least this probability each are merged when their members
    # pair with a mean probability of at least ``merge_mean``.
    merge_probability: float = Field(default=0.35, ge=0, le=1)
    merge_mean: float = Field(default=0.1, ge=0, le=1)
    # Articles placed per transaction: the open stories are read once per batch.
    batch_size: int = Field(default=512, ge=1)


class SubscriptionSpec(Group):
    """A subscription declared in the settings (the default digest)."""

    name: str = "default"
    # "auto": the webhook when SITREP_DISCORD_WEBHOOK_URL is set, else the terminal.
    target: str = "auto"
    schedule: str = "0 8 * * *"
    timezone: str = "UTC"
    topics: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    # Languages (ISO 639-1 codes or English names); empty: every language.
    languages: list[str] = Field(default_factory=list)
    max_items: int = Field(default=10, ge=1, le=50)
    # With a channel target: updates on a story already sent go to one thread per story.
    threads: bool = False


class DigestSettings(Group):
    """How digests are composed, scheduled and delivered."""

    window_hours: float = Field(default=24.0, gt=0)
    # Items of a digest asked for now (/digest, sitrep digest without --max); subscriptions have their own.
    max_items: int = Field(default=10, ge=1, le=50)
    grace_minutes: float = Field(default=360.0, ge=0)
    # Tries of one message within a round, spaced by retry_base_seconds doubling.
    send_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=2.0, ge=0)
    # Failed rounds before a delivery is given up; rounds are retry_round_minutes apart, doubling, at most an hour.
    delivery_rounds: int = Field(default=8, ge=1)
    retry_round_minutes: float = Field(default=1.0, ge=0)
    # A process sending a delivery holds it this long, renewed before each message; if the process dies,
    # another takes the delivery over once the hold runs out.
    claim_seconds: float = Field(default=120.0, gt=0)
    # Allow webhook URLs on any host (tests, self-hosted proxies); by default only Discord's.
    allow_any_webhook_host: bool = False
    # No source supplies more than this share of a digest's items (at least one item each).
    max_source_share: float = Field(default=0.3, gt=0, le=1)
    subscriptions: list[SubscriptionSpec] = Field(default_factory=lambda: [SubscriptionSpec()])


class DiscordSettings(Group):
    """How the bot behaves on Discord."""

    # Sync commands to this server only (instant, for development); 0 syncs them globally.
    dev_guild_id: int = Field(default=0, ge=0)
    # Split a large bot across processes: shard_count shards in all, this process runs shard_ids (one id).
    shard_count: int = Field(default=0, ge=0)
    shard_ids: list[int] = Field(default_factory=list)
    # Post operator notices (a source disabled after failing) in this channel; 0 posts none.
    admin_channel_id: int = Field(default=0, ge=0)
    page_size: int = Field(default=5, ge=1, le=10)
    view_timeout_seconds: float = Field(default=180.0, gt=0)
    # Followers of a story get at most one direct message per story this often, checked every follow_check_seconds.
    follow_message_minutes: float = Field(default=60.0, ge=0)
    follow_check_seconds: float = Field(default=300.0, gt=0)


class Settings(BaseSettings):
    """Everything Sitrep can be told; read it through ``get_settings()``."""

    model_config = SettingsConfigDict(
        env_prefix="SITREP_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite+aiosqlite:///data/sitrep.db"
    log_level: str = "INFO"
    discord_token: SecretStr | None = None
    discord_webhook_url: SecretStr | None = None
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    sections: SectionSettings = Field(default_factory=SectionSettings)
    summarize: SummarizeSettings = Field(default_factory=SummarizeSettings)
    tagging: TaggingSettings = Field(default_factory=TaggingSettings)
    translate: TranslateSettings = Field(default_factory=TranslateSettings)
    stories: StorySettings = Field(default_factory=StorySettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read arguments first, then the environment, then ``config/settings.toml``."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_dir() / "settings.toml")
        return (init_settings, env_settings, file_secret_settings, toml)

    def config_path(self, name: str) -> Path:
        """Resolve a file name from the settings against the config folder."""
        path = Path(name).expanduser()
        return path if path.is_absolute() else config_dir() / path


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@lru_cache
def _cached(overrides: tuple[tuple[str, Any], ...]) -> Settings:
    toml = config_dir() / "settings.toml"
    try:
        return Settings(**dict(overrides))
    except ValidationError as error:
        raise ConfigError(explain_invalid(error, Settings, where=f"{toml} or SITREP_* variables: ")) from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{toml}: not valid TOML ({error})") from error
    except SettingsError as error:  # a SITREP_* variable for a list or table that is not JSON
        raise ConfigError(f"{error}: a list or table in a SITREP_* variable is written as JSON") from error
    except OSError as error:
        raise ConfigError(f"{toml}: cannot be read ({error.strerror or error})") from error


def get_settings(**overrides: Any) -> Settings:
    """Return the settings, built once per set of overrides (``--database-url`` and the like); settings that
    cannot be used are a ConfigError of one line."""
    clean = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
    return _cached(clean)


def reset_settings_cache() -> None:
    """Forget built settings, so that changed files and environment are read again."""
    _cached.cache_clear()
